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
        if auth.hasPrefix(Self.workerPrefix) { return workerPrincipal(auth) }
        if let lane = known.lane(for: auth, registryVersion: store.registryVersion) { return .lane(lane) }
        let lane = (try? store.laneName(forTokenHash: Secrets.hash(auth))) ?? nil
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
        if let (lane, runID) = workerKeys.run(forPublicKey: key) {
            return isLive(runID) ? .worker(lane: lane, runID: runID) : nil
        }
        return (try? store.laneName(forCurveKey: key)).flatMap { $0.map { .lane($0) } }
    }

    static let workerPrefix = "wt_"

    /// The credential the dispatcher hands to the process it spawns for one run: it acts on that run
    /// only (`Principal.worker`), can be minted again at any time without storing it, and dies when
    /// the run ends (checked on every use) or the lane's token is rotated.
    /// Shape: `wt_<lane>.<run>.<HMAC(key, lane token hash, run)>`.
    func workerToken(lane: String, runID: Int64) -> String? {
        guard let hash = try? store.tokenHash(ofLane: lane) else { return nil }
        return Secrets.derivedToken(prefix: "\(Self.workerPrefix)\(lane).\(runID).", key: key, seed: hash + "|run \(runID)")
    }

    private func workerPrincipal(_ token: String) -> Principal? {
        let parts = token.dropFirst(Self.workerPrefix.count).split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let runID = Int64(parts[1]), case let lane = String(parts[0]),
              let expected = workerToken(lane: lane, runID: runID), Secrets.constantTimeEquals(expected, token),
              isLive(runID) else { return nil }
        return .worker(lane: lane, runID: runID)
    }

    /// A worker's credential lives as long as its run's claim: not ended, still carried by its task.
    private func isLive(_ runID: Int64) -> Bool { (try? store.isClaimLive(runID: runID)) == true }
}

/// One CURVE keypair per spawned run, made when its worker is started and kept in memory only: a
/// restart makes new ones, and the workers of the old process were stopped with it. Forgotten when
/// the run's worker exits; refused as soon as the run ends. Owner thread only.
final class WorkerKeys {
    private var byRun: [Int64: (lane: String, keys: CurveKeyPair)] = [:]
    private var runByKey: [String: Int64] = [:]

    func keys(forRun runID: Int64, lane: String) throws -> CurveKeyPair {
        if let k = byRun[runID] { return k.keys }
        let k = try CurveKeyPair.generate()
        byRun[runID] = (lane, k)
        runByKey[k.publicKey] = runID
        return k
    }

    func run(forPublicKey key: String) -> (lane: String, runID: Int64)? {
        guard let runID = runByKey[key], let entry = byRun[runID] else { return nil }
        return (entry.lane, runID)
    }

    func forget(runID: Int64) {
        guard let entry = byRun.removeValue(forKey: runID) else { return }
        runByKey[entry.keys.publicKey] = nil
    }
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
