import KanbanModel
import KanbanStore

/// Which of the workshop's jobs may run now. Jobs of one key (a lane's repository, or a lane that
/// has none) run one at a time in the order they came: a worktree is added before it is removed,
/// and `git worktree` on one repository is never run twice at once. Jobs of different keys run side
/// by side, at most `width` at once: a slow `git worktree add` of one repository then holds up that
/// repository's starts only, not every pool's.
///
/// Pure state: `Dispatcher` runs what it returns and reports back with `finished(key:)`.
struct WorkshopSchedule<Job> {
    /// Most jobs running at once (each may be a `git` process).
    let width: Int
    /// In arrival order; a job leaves when it starts.
    private var waiting: [(key: String, job: Job)] = []
    private var running: Set<String> = []

    init(width: Int) {
        precondition(width > 0, "a workshop runs at least one job at once")
        self.width = width
    }

    /// True when nothing runs and nothing waits.
    var isIdle: Bool { waiting.isEmpty && running.isEmpty }

    /// Adds a job; returns the jobs to start now.
    mutating func add(_ job: Job, key: String) -> [(key: String, job: Job)] {
        waiting.append((key, job))
        return startable()
    }

    /// The job of `key` has ended; returns the jobs to start now.
    mutating func finished(key: String) -> [(key: String, job: Job)] {
        running.remove(key)
        return startable()
    }

    /// The earliest waiting job of each key that is not running, oldest first, while there is room.
    /// Taking only the earliest of a key keeps each key's order; a later job of another key may
    /// pass an earlier one whose key is busy.
    private mutating func startable() -> [(key: String, job: Job)] {
        var start: [(key: String, job: Job)] = []
        var i = 0
        while i < waiting.count, running.count < width {
            // A key's earlier job either started (so the key is running) or was skipped because the
            // key was running: the first job found of a key that is not running is its earliest.
            if running.contains(waiting[i].key) {
                i += 1
                continue
            }
            running.insert(waiting[i].key)
            start.append(waiting.remove(at: i))
        }
        return start
    }
}

/// What the workshop keeps in order: the key of a job.
enum WorkshopKey {
    /// A worker start: its worktree's repository, else its lane (scratch directories and starts
    /// without a workspace touch nothing another lane shares).
    static func of(_ lane: Lane) -> String {
        if lane.workspacePolicy == .worktreePerTask, let repo = lane.repo { return "repo " + repo }
        return "lane " + lane.name
    }

    /// Removing a recorded workspace: the key its start had, so the removal runs after it.
    static func of(_ record: WorkspaceRecord) -> String {
        if record.policy == .worktreePerTask, let repo = record.repo { return "repo " + repo }
        return "lane " + record.lane
    }
}
