import { CacheKeys, escapeGlob } from '..';

describe('CacheKeys', () => {
  it('builds every seed key byte for byte', () => {
    expect(CacheKeys.user('42')).toBe('user:42');
    expect(CacheKeys.userFriends('42')).toBe('user:42:friends');
    expect(CacheKeys.userProfile('42')).toBe('user:42:profile');
    expect(CacheKeys.userSettings('42')).toBe('user:42:settings');
    expect(CacheKeys.post('7')).toBe('post:7');
    expect(CacheKeys.postComments('7')).toBe('post:7:comments');
    expect(CacheKeys.postReactions('7')).toBe('post:7:reactions');
    expect(CacheKeys.userFeed('42', 3)).toBe('feed:42:page:3');
    expect(CacheKeys.session('abc')).toBe('session:abc');
    expect(CacheKeys.userSession('42')).toBe('user:42:session');
    expect(CacheKeys.conversation('c1')).toBe('conversation:c1');
    expect(CacheKeys.conversationMessages('c1', 2)).toBe('conversation:c1:messages:page:2');
    expect(CacheKeys.userNotifications('42')).toBe('notifications:42');
    expect(CacheKeys.unreadCount('42')).toBe('notifications:42:unread');
    expect(CacheKeys.trendingPosts()).toBe('trending:posts');
    expect(CacheKeys.rateLimit('login', '10.0.0.1')).toBe('rate_limit:login:10.0.0.1');
    expect(CacheKeys.lock('post:7')).toBe('lock:post:7');
  });

  it('encodes search suggestions as base64 of the UTF-8 bytes', () => {
    expect(CacheKeys.searchSuggestions('hello')).toBe('search:suggestions:aGVsbG8=');
    expect(CacheKeys.searchSuggestions('café 🎉')).toBe(
      `search:suggestions:${Buffer.from('café 🎉', 'utf8').toString('base64')}`,
    );
    expect(CacheKeys.searchSuggestions('')).toBe('search:suggestions:');
  });

  it('escapes glob metacharacters so caller data only matches itself', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
    expect(escapeGlob('plain-id:1')).toBe('plain-id:1');
  });
});
