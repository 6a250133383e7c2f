import Foundation
import KanbanModel

/// Who a browser session is: the token it logged in with (kept in this process's memory only, never
/// written or logged) and what the coordinator said that token is.
public struct Session: Sendable {
    public enum Role: String, Sendable { case admin, lane }
    public let id: String
    public let token: String
    public let role: Role
    public let lane: String?
    public let csrf: String
    var lastUsedMs: Int64
}

/// The live sessions, bounded: at most `WebLimits.maxSessions` (the least recently used goes first)
/// and each gone after `WebLimits.sessionIdleMs` without a request. Ids are 256 random bits.
public final class Sessions: @unchecked Sendable {
    private let lock = NSLock()
    private var byID: [String: Session] = [:]
    private let capacity: Int
    private let idleMs: Int64
    private let now: @Sendable () -> Int64

    public init(capacity: Int = WebLimits.maxSessions, idleMs: Int64 = WebLimits.sessionIdleMs,
                now: @escaping @Sendable () -> Int64 = { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }) {
        self.capacity = capacity; self.idleMs = idleMs; self.now = now
    }

    public var count: Int { lock.withLock { byID.count } }

    /// Opens a session for a token the coordinator accepted.
    public func open(token: String, role: Session.Role, lane: String?) -> Session {
        let session = Session(id: Self.randomID(), token: token, role: role, lane: lane, csrf: Self.randomID(), lastUsedMs: now())
        lock.withLock {
            if byID.count >= capacity, let oldest = byID.values.min(by: { $0.lastUsedMs < $1.lastUsedMs }) {
                byID[oldest.id] = nil
            }
            byID[session.id] = session
        }
        return session
    }

    /// The live session with this id (touched), or nil.
    public func find(_ id: String) -> Session? {
        let t = now()
        return lock.withLock {
            guard var s = byID[id] else { return nil }
            guard t - s.lastUsedMs < idleMs else { byID[id] = nil; return nil }
            s.lastUsedMs = t
            byID[id] = s
            return s
        }
    }

    public func close(_ id: String) { lock.withLock { byID[id] = nil } }

    /// 256 random bits, URL-safe.
    static func randomID() -> String { Secrets.newToken(prefix: "") }
}
