import KanbanModel
import KanbanStore
import ZeroMQ

/// Turns a caller's credential into a principal: the `auth` token without CURVE, the connection's
/// authenticated CURVE key with it. Tokens are compared by hash or in constant time and never logged.
struct Authenticator {
    let adminToken: String
    let store: BoardStore
    /// Key for worker credentials (see `workerToken`).
    let key: [UInt8]
    /// CURVE public keys that act as the admin (empty without CURVE).
    var adminCurveKeys: Set<String> = []
    /// Keypairs the dispatcher hands to the processes it spawns, per lane (CURVE only).
    let workerKeys = WorkerKeys()

    func principal(for auth: String?) -> Principal? {
        guard let auth, !auth.isEmpty else { return nil }
        if Secrets.constantTimeEquals(auth, adminToken) { return .admin }
        if let lane = known.lane(for: auth, registryVersion: store.registryVersion) { return .lane(lane) }
        let lane = auth.hasPrefix(Self.workerPrefix) ? workerLane(auth) : (try? store.laneName(forTokenHash: Secrets.hash(auth))) ?? nil
        if let lane { known.remember(auth, lane: lane, registryVersion: store.registryVersion) }
        return lane.map { .lane($0) }
    }

    /// Lane and worker tokens already seen to be valid (every request carries one; hashing it and
    /// looking it up cost about 66,000 instructions per task, `kanban-bench --instructions`).
    let known = KnownTokens()

    /// The principal a CURVE public key (Z85) stands for, looked up on every request so that a key
    /// removed from a lane stops working at once, even on a connection made before.
    func principal(forCurveKey key: String?) -> Principal? {
        guard let key, !key.isEmpty else { return nil }
        if adminCurveKeys.contains(key) { return .admin }
        if let lane = workerKeys.lane(forPublicKey: key) { return .lane(lane) }
        return (try? store.laneName(forCurveKey: key)).flatMap { $0.map { .lane($0) } }
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

/// One CURVE keypair per spawned lane, made when first needed and kept in memory only: a restart
/// makes new ones, and the workers of the old process were stopped with it. Owner thread only.
final class WorkerKeys {
    private var byLane: [String: CurveKeyPair] = [:]
    private var laneByKey: [String: String] = [:]

    func keys(forLane lane: String) throws -> CurveKeyPair {
        if let k = byLane[lane] { return k }
        let k = try CurveKeyPair.generate()
        byLane[lane] = k
        laneByKey[k.publicKey] = lane
        return k
    }

    func lane(forPublicKey key: String) -> String? { laneByKey[key] }
}

/// Tokens that proved valid, until the lane registry changes (a rotation or removal must take
/// effect at once). Only valid tokens are kept, so a stranger trying tokens cannot grow it; the
/// tokens are the ones clients send with every request, held in this process's memory as the
/// requests themselves are. Owner thread only.
final class KnownTokens {
    private var lanes: [String: String] = [:]
    private var version = -1

    func lane(for token: String, registryVersion: Int) -> String? {
        if registryVersion != version { lanes.removeAll(); version = registryVersion }
        return lanes[token]
    }

    func remember(_ token: String, lane: String, registryVersion: Int) {
        guard registryVersion == version else { return }
        lanes[token] = lane
    }
}
