/// What `kanban-bridge doctor` learns about a board file without changing it.
public struct BoardReport: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No file there: `serve` would create a fresh Hermes board.
        case missing
        /// An SQLite file with no tables (or an empty file): `serve` would make it a board.
        case empty
        /// A Hermes board the bridge has never opened.
        case hermesBoard
        /// A Hermes board with the bridge's tables at this schema version.
        case bridgeBoard(schemaVersion: Int)
    }

    public var path: String
    public var kind: Kind
    public var journalMode: String?
    public var tasks: Int
    public var lanes: Int
    /// Tasks `running` now, and how many of them lanes of the bridge hold (the rest are Hermes' own).
    public var running: Int = 0
    public var runningUnderLanes: Int = 0
    /// The sum of the lanes' max_concurrency: how many of Hermes' global slots lanes can hold at once.
    public var lanesMaxConcurrency: Int = 0
}
