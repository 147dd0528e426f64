/** The seed's key names, byte for byte, so old and new backends share one Redis. */
export class CacheKeys {
  static user(id: string): string {
    return `user:${id}`;
  }

  static userFriends(id: string): string {
    return `user:${id}:friends`;
  }

  static userProfile(id: string): string {
    return `user:${id}:profile`;
  }

  static userSettings(id: string): string {
    return `user:${id}:settings`;
  }

  static post(id: string): string {
    return `post:${id}`;
  }

  static postComments(id: string): string {
    return `post:${id}:comments`;
  }

  static postReactions(id: string): string {
    return `post:${id}:reactions`;
  }

  static userFeed(userId: string, page: number): string {
    return `feed:${userId}:page:${page}`;
  }

  static session(id: string): string {
    return `session:${id}`;
  }

  static userSession(userId: string): string {
    return `user:${userId}:session`;
  }

  static conversation(id: string): string {
    return `conversation:${id}`;
  }

  static conversationMessages(id: string, page: number): string {
    return `conversation:${id}:messages:page:${page}`;
  }

  static userNotifications(userId: string): string {
    return `notifications:${userId}`;
  }

  static unreadCount(userId: string): string {
    return `notifications:${userId}:unread`;
  }

  static searchSuggestions(query: string): string {
    return `search:suggestions:${Buffer.from(query).toString('base64')}`;
  }

  static trendingPosts(): string {
    return 'trending:posts';
  }

  static rateLimit(type: string, identifier: string): string {
    return `rate_limit:${type}:${identifier}`;
  }

  static lock(resource: string): string {
    return `lock:${resource}`;
  }
}

/**
 * Escapes Redis glob metacharacters (`* ? [ ] \`) so caller data inside a SCAN
 * pattern matches only itself.
 */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}
