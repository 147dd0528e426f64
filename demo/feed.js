// Demo section: a feed page cached, invalidated by a new post (O(1), no KEYS), rebuilt;
// then cache warming from stand-in repositories.
const { PostCacheService, UserCacheService, CacheWarmingService } = require('redis-layer');

module.exports = async function feedSection({ connection, run, step, timed }) {
  const posts = new PostCacheService(connection);
  const users = new UserCacheService(connection);
  const userId = `${run}ada`;
  const timeline = [
    { id: `${run}p1`, authorId: userId, text: 'Hello world' },
    { id: `${run}p2`, authorId: userId, text: 'Second post' },
  ];

  step('News feed: cached, invalidated by a new post, rebuilt');
  console.log(`  first visit: ${(await posts.getUserFeed(userId, 1)) === null ? 'miss → built from the database' : 'hit'}`);
  await posts.setUserFeed(userId, 1, timeline);
  const cached = await timed('second visit', () => posts.getUserFeed(userId, 1));
  console.log(`  → hit with ${cached.length} posts`);
  const newPost = { id: `${run}p3`, authorId: userId, text: 'Brand new post' };
  await posts.setPost(newPost);
  await timed('new post → invalidatePost (one script call, whatever the number of cached feeds)', () =>
    posts.invalidatePost(newPost.id),
  );
  console.log(`  next visit: ${(await posts.getUserFeed(userId, 1)) === null ? 'miss (stale page never served)' : 'STALE HIT'}`);
  await posts.setUserFeed(userId, 1, [newPost, ...timeline]);
  console.log(`  rebuilt: ${(await posts.getUserFeed(userId, 1)).length} posts`);

  step('Cache warming from the backend repositories');
  const people = Array.from({ length: 1000 }, (_, i) => ({ id: `${run}w${i}`, name: `User ${i}` }));
  const warming = new CacheWarmingService(
    {
      userRepository: {
        findByIds: async (ids) => people.filter((p) => ids.includes(p.id)),
        getActiveUsers: async (limit) => people.slice(0, limit),
      },
      postRepository: { findByIds: async () => [], getTrendingPosts: async () => [] },
    },
    connection,
  );
  await timed('warmUserCache(1000 users) — pipelined writes', () => warming.warmUserCache(people.map((p) => p.id)));
  console.log(`  → ${people[999].id} cached: ${(await users.getUser(people[999].id)).name}`);
};
