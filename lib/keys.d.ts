/** The seed's key names, byte for byte, so old and new backends share one Redis. */
export declare class CacheKeys {
    static user(id: string): string;
    static userFriends(id: string): string;
    static userProfile(id: string): string;
    static userSettings(id: string): string;
    static post(id: string): string;
    static postComments(id: string): string;
    static postReactions(id: string): string;
    static userFeed(userId: string, page: number): string;
    static session(id: string): string;
    static userSession(userId: string): string;
    static conversation(id: string): string;
    static conversationMessages(id: string, page: number): string;
    static userNotifications(userId: string): string;
    static unreadCount(userId: string): string;
    static searchSuggestions(query: string): string;
    static trendingPosts(): string;
    static rateLimit(type: string, identifier: string): string;
    static lock(resource: string): string;
}
/**
 * Escapes Redis glob metacharacters (`* ? [ ] \`) so caller data inside a SCAN
 * pattern matches only itself.
 */
export declare function escapeGlob(literal: string): string;
