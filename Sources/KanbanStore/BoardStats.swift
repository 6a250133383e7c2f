import KanbanModel

/// One lane's numbers for `stats`: the board now, and what happened in the window.
public struct LaneStats: Sendable, Equatable {
    /// The assignee; `_` for tasks with no assignee.
    public var lane: String
    public var registered: Bool
    public var maxConcurrency: Int?
    /// Live claims now.
    public var running: Int = 0
    /// Tasks by Hermes status now.
    public var tasks: [String: Int] = [:]
    /// Events in the window, by type (claimed, completed, blocked, released, timed_out, gave_up, …).
    public var window: [String: Int] = [:]
    /// Claim latencies in the window, in ms: from the moment a task last became claimable (created
    /// ready, promoted, released, expired, unblocked, backoff over) to its claim. Sorted.
    public var claimLatenciesMs: [Int64] = []

    public init(lane: String, registered: Bool, maxConcurrency: Int?) {
        self.lane = lane; self.registered = registered; self.maxConcurrency = maxConcurrency
    }
}

/// The whole board's numbers for `stats`.
public struct BoardStats: Sendable, Equatable {
    public var sinceMs: Int64
    public var nowMs: Int64
    /// Events read for the window (capped at `SQLiteBoard.statsEventCap`; the window then starts later).
    public var eventsScanned: Int
    public var lanes: [LaneStats]

    public init(sinceMs: Int64, nowMs: Int64, eventsScanned: Int, lanes: [LaneStats]) {
        self.sinceMs = sinceMs; self.nowMs = nowMs; self.eventsScanned = eventsScanned; self.lanes = lanes
    }

    /// Folds what a store reads (lanes, task counts, live claims, the window's events in `seq` order)
    /// into `BoardStats`. Pure: the queries that feed it are the store's (`SQLiteBoard.stats`).
    struct Builder {
        private var lanes: [String: LaneStats] = [:]
        /// Per task, when it last became claimable in the window.
        private var claimableSince: [String: Int64] = [:]
        private var eventsScanned = 0

        init() {}

        private func entry(_ name: String?) -> LaneStats {
            lanes[name ?? "_"] ?? LaneStats(lane: name ?? "_", registered: false, maxConcurrency: nil)
        }

        /// A lane in the registry.
        mutating func registered(lane name: String, maxConcurrency: Int?) {
            lanes[name] = LaneStats(lane: name, registered: true, maxConcurrency: maxConcurrency)
        }

        /// `count` tasks with this assignee (nil: none) and Hermes status.
        mutating func tasks(assignee: String?, status: String, count: Int) {
            var s = entry(assignee)
            s.tasks[status, default: 0] += count
            lanes[s.lane] = s
        }

        /// The lane's live claims.
        mutating func running(lane: String?, count: Int) {
            var s = entry(lane)
            s.running = count
            lanes[s.lane] = s
        }

        /// One event of the window; events come in `seq` order.
        mutating func event(type: String, taskID task: String?, lane: String?, atMs at: Int64) {
            eventsScanned += 1
            var s = entry(lane)
            s.window[type, default: 0] += 1
            if let task {
                if EventKind(rawValue: type)?.startsWait == true {
                    claimableSince[task] = at
                } else if type == "claimed", let since = claimableSince.removeValue(forKey: task) {
                    s.claimLatenciesMs.append(max(0, at - since))
                }
            }
            lanes[s.lane] = s
        }

        /// Lanes by name, each with its latencies sorted.
        func build(sinceMs: Int64, nowMs: Int64) -> BoardStats {
            let sorted = lanes.values.sorted { $0.lane < $1.lane }.map { lane -> LaneStats in
                var l = lane
                l.claimLatenciesMs.sort()
                return l
            }
            return BoardStats(sinceMs: sinceMs, nowMs: nowMs, eventsScanned: eventsScanned, lanes: sorted)
        }
    }
}
