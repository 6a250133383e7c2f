import KanbanModel
import KanbanStore

/// Turns the `auth` field into a principal. Tokens are compared by hash or in constant time and
/// never logged.
struct Authenticator {
    let adminToken: String
    let store: BoardStore
    /// Key for worker credentials (see `workerToken`).
    let key: [UInt8]

    func principal(for auth: String?) -> Principal? {
        guard let auth, !auth.isEmpty else { return nil }
        if Secrets.constantTimeEquals(auth, adminToken) { return .admin }
        if auth.hasPrefix(Self.workerPrefix) { return workerLane(auth).map { .lane($0) } }
        guard let lane = try? store.laneName(forTokenHash: Secrets.hash(auth)) else { return nil }
        return .lane(lane)
    }

    static let workerPrefix = "wt_"

    /// The credential the dispatcher hands to a process it spawns for `lane`: it acts as the lane,
    /// can be minted again at any time without storing it, and dies when the lane's token is rotated.
    /// Shape: `wt_<lane>.<HMAC(key, lane token hash)>`.
    func workerToken(lane: String) -> String? {
        guard let hash = try? store.tokenHash(ofLane: lane) else { return nil }
        return Secrets.derivedToken(prefix: "\(Self.workerPrefix)\(lane).", key: key, seed: hash)
    }

    private func workerLane(_ token: String) -> String? {
        let body = token.dropFirst(Self.workerPrefix.count)
        guard let dot = body.firstIndex(of: "."), case let lane = String(body[..<dot]),
              let expected = workerToken(lane: lane), Secrets.constantTimeEquals(expected, token) else { return nil }
        return lane
    }
}
