import KanbanModel

/// The shape of a task update: which `TaskField`s it sets, which of them keep a value already set
/// (`FieldValue.unlessSet`), and its guard. One shape, one SQL text (`sql`, made from the shape
/// alone), one prepared statement (`key`); `EffectWriter` binds values in the shape's field order.
struct UpdateShape: Equatable {
    /// Fields set, one bit per `ordinal`.
    var set: UInt32
    /// Fields that keep a set value, one bit per `ordinal` (a subset of `set`).
    var keep: UInt32
    var guardKind: GuardKind

    enum GuardKind: Int { case runningUnder, claimable, status, any }

    /// Bits per field set in `key`: `TaskField` may grow to this many cases (UpdateShapeTests checks).
    static let fieldBits = 17

    /// The field's place in the canonical order: its place in `TaskField.allCases` (UpdateShapeTests
    /// checks the two agree). A switch, not a dictionary: this runs for every field of every write.
    static func ordinal(_ field: TaskField) -> Int {
        switch field {
        case .status: 0
        case .assignee: 1
        case .result: 2
        case .completedAt: 3
        case .startedAt: 4
        case .claimLock: 5
        case .claimExpires: 6
        case .workerPID: 7
        case .lastHeartbeatAt: 8
        case .currentRunID: 9
        case .blockKind: 10
        case .blockRecurrences: 11
        case .consecutiveFailures: 12
        case .lastFailureError: 13
        case .maxRetries: 14
        }
    }

    init(set: UInt32, keep: UInt32, guardKind: GuardKind) { self.set = set; self.keep = keep; self.guardKind = guardKind }

    /// The shape of the values in `slots` (indexed by `ordinal`, nil where the update sets nothing).
    init(slots: UnsafeBufferPointer<FieldValue?>, guardedBy: TaskGuard) {
        var set: UInt32 = 0, keep: UInt32 = 0
        for (i, slot) in slots.enumerated() {
            guard let value = slot else { continue }
            set |= 1 << UInt32(i)
            if case .unlessSet = value { keep |= 1 << UInt32(i) }
        }
        let kind: GuardKind = switch guardedBy {
        case .runningUnder: .runningUnder
        case .claimable: .claimable
        case .status: .status
        case .any: .any
        }
        self.init(set: set, keep: keep, guardKind: kind)
    }

    /// The statement key: above every `Hot` key (bit 40), distinct for distinct shapes.
    var key: Int { 1 << 40 | guardKind.rawValue << (2 * Self.fieldBits) | Int(keep) << Self.fieldBits | Int(set) }

    /// `UPDATE tasks SET … WHERE id = ?` and the guard, fields in ascending `ordinal`.
    var sql: String {
        var sets: [String] = []
        for (i, field) in TaskField.allCases.enumerated() where set & (1 << UInt32(i)) != 0 {
            let column = field.rawValue
            sets.append(keep & (1 << UInt32(i)) != 0 ? "\(column) = COALESCE(\(column), ?)" : "\(column) = ?")
        }
        let guardSQL = switch guardKind {
        case .runningUnder: " AND " + RunningUnder.sql()
        case .claimable: " AND " + UnclaimedReady.sql()
        case .status: " AND status = ?"
        case .any: ""
        }
        return "UPDATE tasks SET " + sets.joined(separator: ", ") + " WHERE id = ?" + guardSQL
    }
}
