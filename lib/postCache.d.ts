import { type RedisConnection } from './connection';
/** The seed's TTLs in seconds; cache warming writes posts with POST_TTL. */
export declare const POST_TTL = 1800;
export declare const FEED_TTL = 900;
export declare const COMMENTS_TTL = 600;
export declare const REACTIONS_TTL = 1800;
/**
 * Feed invalidation by epochs instead of the seed's KEYS + DEL over every page.
 * Every page `feed:{userId}:page:{n}` keeps the seed's JSON (the old backend reads it
 * as before) and gets a tag `{feed:{userId}:page:{n}}:epoch` holding the global and
 * per-user epochs read before it was written. A page is served only while both still
 * match, so bumping an epoch is one command however many pages exist.
 *
 * Cluster: page and tag share a hash slot (the tag's hash tag is the page key), so
 * one script writes both; each epoch key is read and bumped on its own. The epoch
 * keys sit outside `feed:*` so the old backend's `KEYS feed:*` never matches them,
 * and their names cannot be produced by CacheKeys.userFeed for any user id.
 */
export declare const FEED_EPOCH_KEY = "feed-epoch";
export declare const userFeedEpochKey: (userId: string) => string;
export declare const feedPageEpochKey: (userId: string, page: number) => string;
/**
 * The seed's PostCacheService: posts, feed pages, comments and reactions as JSON
 * under `CacheKeys`, failing soft. Generic so the backend's own `Post` type flows through.
 */
export declare class PostCacheService {
    private readonly connection;
    private readonly cache;
    private readonly flights;
    constructor(connection?: RedisConnection);
    getPost<T = any>(postId: string): Promise<T | null>;
    setPost<T extends {
        id: string;
    }>(post: T): Promise<void>;
    /** The page as cached, or null when missing, bad, or cached before the last invalidation that covers it. */
    getUserFeed<T = any>(userId: string, page: number): Promise<T[] | null>;
    /**
     * The cached page, or `loader()`'s posts, stored unless the feed was invalidated
     * while the loader ran. Concurrent misses on one page run the loader once; a loader
     * error rejects every waiter and stores nothing.
     */
    getUserFeedOrLoad<T = any>(userId: string, page: number, loader: () => Promise<T[]> | T[]): Promise<T[]>;
    /**
     * For callers who load a page themselves: take this token before reading the database
     * and pass it to setUserFeed, which then stores the page only if no invalidation
     * covering it happened in between. Null (logged) when Redis cannot be read.
     */
    beginFeedWrite(userId: string, page: number): Promise<string | null>;
    /**
     * Stores the page, tagged with the feed's epochs. With a `token` from beginFeedWrite, only
     * if the epochs are still the token's (a null token stores nothing); without one, the
     * epochs read now are used, so a page loaded before an invalidation and stored after it is
     * served (as in the seed).
     */
    setUserFeed<T = any>(userId: string, page: number, posts: T[], token?: string | null): Promise<void>;
    getPostComments<T = any>(postId: string): Promise<T[] | null>;
    setPostComments<T = any>(postId: string, comments: T[]): Promise<void>;
    getPostReactions<T = any>(postId: string): Promise<T[] | null>;
    setPostReactions<T = any>(postId: string, reactions: T[]): Promise<void>;
    /**
     * Deletes the post's keys (cancelling their fills in flight) and retires every cached
     * feed page: one epoch bump, whatever the number of pages.
     */
    invalidatePost(postId: string): Promise<void>;
    /** Retires every cached feed page in O(1); pages expire on their own TTL. */
    invalidateAllFeeds(): Promise<void>;
    /** Retires this user's pages only: its own epoch key, no pattern, so no id can reach another user's keys. */
    invalidateUserFeeds(userId: string): Promise<void>;
    warmPostCache<T extends {
        id: string;
    }>(post: T): Promise<void>;
    /** The page if it is served (see getUserFeed) and, when both epochs are readable, the token a page written now would need. */
    private readPage;
    /** Bumps one epoch (and runs `alongside`, e.g. a DEL, at the same time); false once logged as failed. */
    private bump;
}
export declare const postCacheService: PostCacheService;
