"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.CacheKeys = void 0;
exports.escapeGlob = escapeGlob;
/** The seed's key names, byte for byte, so old and new backends share one Redis. */
class CacheKeys {
    static user(id) {
        return `user:${id}`;
    }
    static userFriends(id) {
        return `user:${id}:friends`;
    }
    static userProfile(id) {
        return `user:${id}:profile`;
    }
    static userSettings(id) {
        return `user:${id}:settings`;
    }
    static post(id) {
        return `post:${id}`;
    }
    static postComments(id) {
        return `post:${id}:comments`;
    }
    static postReactions(id) {
        return `post:${id}:reactions`;
    }
    static userFeed(userId, page) {
        return `feed:${userId}:page:${page}`;
    }
    static session(id) {
        return `session:${id}`;
    }
    static userSession(userId) {
        return `user:${userId}:session`;
    }
    static conversation(id) {
        return `conversation:${id}`;
    }
    static conversationMessages(id, page) {
        return `conversation:${id}:messages:page:${page}`;
    }
    static userNotifications(userId) {
        return `notifications:${userId}`;
    }
    static unreadCount(userId) {
        return `notifications:${userId}:unread`;
    }
    static searchSuggestions(query) {
        return `search:suggestions:${Buffer.from(query).toString('base64')}`;
    }
    static trendingPosts() {
        return 'trending:posts';
    }
    static rateLimit(type, identifier) {
        return `rate_limit:${type}:${identifier}`;
    }
    static lock(resource) {
        return `lock:${resource}`;
    }
}
exports.CacheKeys = CacheKeys;
/**
 * Escapes Redis glob metacharacters (`* ? [ ] \`) so caller data inside a SCAN
 * pattern matches only itself.
 */
function escapeGlob(literal) {
    return literal.replace(/[*?[\]\\]/g, '\\$&');
}
