'use strict';
// The values every client reads and writes: a ~1 KB JSON user (the issue's
// "value"), seed-shaped sessions, and the key names of the seed's CacheKeys.

const USERS = 10_000;
const SESSIONS = 1_000;
const WARM_IDS = Array.from({ length: 1000 }, (_, i) => String(i));

const BIO =
  'Coffee-powered engineer, weekend climber and occasional baker of sourdough. Writes about distributed systems, ' +
  'caching and the joys of on-call. Opinions are my own and change with new evidence. Based in Lisbon, often in Berlin.';

function makeUser(i) {
  const id = String(i);
  return {
    id,
    email: `user${id}@example.com`,
    username: `user_${id}`,
    firstName: 'Alexandra',
    lastName: `Example-${id}`,
    bio: BIO,
    avatarUrl: `https://cdn.example.com/avatars/${id}/avatar-256x256.jpg`,
    coverUrl: `https://cdn.example.com/covers/${id}/cover-1500x500.jpg`,
    location: { city: 'Lisbon', country: 'PT' },
    birthday: '1990-04-12',
    interests: ['climbing', 'baking', 'distributed-systems', 'photography', 'jazz'],
    website: `https://blog.example.com/${id}`,
    isVerified: i % 7 === 0,
    isPrivate: false,
    followerCount: (i * 37) % 10_000,
    followingCount: (i * 17) % 1_000,
    friendIds: Array.from({ length: 12 }, (_, k) => String((i + k * 101) % USERS)),
    settings: { theme: 'dark', language: 'en-GB', notifications: { email: true, push: true, sms: false } },
    createdAt: '2021-03-04T05:06:07.000Z',
    updatedAt: '2024-11-12T13:14:15.000Z',
  };
}

function makeSession(i) {
  return {
    userId: String(i),
    email: `user${i}@example.com`,
    username: `user_${i}`,
    role: 'user',
    permissions: ['posts:read', 'posts:write', 'comments:write', 'friends:manage'],
    lastActivity: new Date(),
    ipAddress: '203.0.113.42',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  };
}

const userKey = (id) => `user:${id}`;
const sessionId = (i) => `bench-session-${i}`;

module.exports = { USERS, SESSIONS, WARM_IDS, makeUser, makeSession, userKey, sessionId };
