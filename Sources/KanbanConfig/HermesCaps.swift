import Foundation
import Yams

/// The caps Hermes' own dispatcher applies (`kanban:` in `$HERMES_HOME/config.yaml`). They count
/// every running task on the board, whoever claimed it, so lanes' claims use them up too: a busy pool
/// can leave Hermes spawning nothing ("Spawned: 0") without saying why. `doctor` shows them.
public struct HermesCaps: Equatable, Sendable {
    /// Hermes spawns nothing while this many tasks run (`kanban.max_in_progress`).
    public var maxInProgress: Int?
    /// At most this many spawns per dispatcher tick (`kanban.max_spawn`).
    public var maxSpawn: Int?
    /// At most this many running tasks per assignee (`kanban.max_in_progress_per_profile`).
    public var maxInProgressPerProfile: Int?
    /// Consecutive failures before Hermes blocks a task without its own `max_retries`
    /// (`kanban.failure_limit`; unset means Hermes' default, 2). The bridge's default follows it.
    public var failureLimit: Int?

    public init(maxInProgress: Int? = nil, maxSpawn: Int? = nil, maxInProgressPerProfile: Int? = nil, failureLimit: Int? = nil) {
        self.maxInProgress = maxInProgress; self.maxSpawn = maxSpawn; self.maxInProgressPerProfile = maxInProgressPerProfile
        self.failureLimit = failureLimit
    }

    /// Where Hermes keeps its config: `$HERMES_HOME`, else `~/.hermes`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["HERMES_HOME"], !home.isEmpty { return home }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.hermes"
    }

    /// The caps in `<home>/config.yaml`; nil when there is no such file. Values Hermes would ignore
    /// (not a positive integer) are read as unset, as Hermes reads them.
    public static func load(hermesHome home: String) throws -> HermesCaps? {
        let path = home + "/config.yaml"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let root = try Yams.load(yaml: text) as? [String: Any]
        let kanban = root?["kanban"] as? [String: Any] ?? [:]
        func positive(_ key: String) -> Int? {
            let value = kanban[key]
            let n = (value as? Int) ?? (value as? String).flatMap { Int($0) }
            return n.flatMap { $0 >= 1 ? $0 : nil }
        }
        return HermesCaps(maxInProgress: positive("max_in_progress"), maxSpawn: positive("max_spawn"),
                          maxInProgressPerProfile: positive("max_in_progress_per_profile"),
                          failureLimit: positive("failure_limit"))
    }
}
