/// A recorded SQL trace turned into what the floor replay executes: the same binds, steps and
/// resets in the same order, on statements prepared once per distinct SQL text. Pure (no SQLite), so
/// the translation is unit tested; SQLReplay runs it.
///
/// Where the coordinator (through GRDB) prepares a statement, runs it and finalizes it, and later
/// prepares the same SQL again, the program reuses the statement prepared the first time (resetting
/// it if it was left stepped): the floor is the SQL itself, not the preparing of it. Two statements
/// of the same SQL alive at once get one slot each, so interleaved steps stay apart.
public struct SQLReplayProgram: Sendable {
    /// One SQLite call of the replay. `slot` indexes the replay's statements, `db` its connections;
    /// SQL, text and blob bytes are ranges of `bytes`. Trivial payloads only: running the ops
    /// retains and releases nothing.
    public enum Op: Equatable, Sendable {
        case prepare(slot: Int32, db: Int32, flags: UInt32, sql: Range<Int>)
        case bindNull(slot: Int32, index: Int32)
        case bindInt(slot: Int32, index: Int32, value: Int64)
        case bindDouble(slot: Int32, index: Int32, value: Double)
        case bindText(slot: Int32, index: Int32, bytes: Range<Int>)
        case bindBlob(slot: Int32, index: Int32, bytes: Range<Int>)
        /// `expect`: what the coordinator's step returned (SQLITE_ROW 100, SQLITE_DONE 101, ...).
        case step(slot: Int32, expect: Int32)
        case reset(slot: Int32)
        case clearBindings(slot: Int32)
    }

    /// A connection the coordinator opened: its file name and open flags.
    public struct Connection: Equatable, Sendable {
        public var filename: String
        public var flags: Int32
    }

    public private(set) var ops: [Op] = []
    public private(set) var bytes: [UInt8] = []
    public private(set) var connections: [Connection] = []
    public private(set) var slotCount: Int32 = 0
    /// sqlite3_step calls in the trace.
    public private(set) var steps = 0
    /// Statements run: first steps after a prepare or a reset, or after a step that finished (a
    /// SELECT that returns three rows is one statement and four steps).
    public private(set) var statements = 0

    public struct BuildError: Error, CustomStringConvertible {
        public let description: String
    }

    private struct SQLKey: Hashable {
        var db: Int32
        var flags: UInt32
        var sql: [UInt8]
    }

    public init(events: [SQLTrace.Event]) throws {
        var dbSlots: [UInt64: Int32] = [:]  // the coordinator's connection pointer -> connection index
        var live: [UInt64: Int32] = [:]  // the coordinator's statement pointer -> slot
        var keyOfSlot: [SQLKey] = []
        var free: [SQLKey: [Int32]] = [:]  // slots whose statement the coordinator finalized, by SQL
        var stepped: [Bool] = []  // by slot: stepped since its last reset (a bind would be refused)
        var running: [Bool] = []  // by slot: the last step returned a row (the statement is mid-way)
        var sqlOffsets: [[UInt8]: Range<Int>] = [:]

        func slot(_ stmt: UInt64) throws -> Int32 {
            guard let s = live[stmt] else { throw BuildError(description: "statement 0x\(String(stmt, radix: 16)) used but never prepared") }
            return s
        }
        func store(_ data: [UInt8]) -> Range<Int> {
            let start = bytes.count
            bytes.append(contentsOf: data)
            return start..<bytes.count
        }

        for event in events {
            switch event {
            case .open(let db, let flags, let filename):
                dbSlots[db] = Int32(connections.count)
                connections.append(Connection(filename: filename, flags: flags))
            case .prepare(let db, let stmt, let flags, let sql):
                guard let dbSlot = dbSlots[db] else { throw BuildError(description: "statement prepared on an unknown connection") }
                let key = SQLKey(db: dbSlot, flags: flags, sql: sql)
                if let reused = free[key]?.popLast() {
                    if stepped[Int(reused)] { ops.append(.reset(slot: reused)); stepped[Int(reused)] = false }
                    running[Int(reused)] = false
                    live[stmt] = reused
                } else {
                    let s = slotCount
                    slotCount += 1
                    keyOfSlot.append(key)
                    stepped.append(false)
                    running.append(false)
                    let range = sqlOffsets[sql] ?? store(sql)
                    sqlOffsets[sql] = range
                    ops.append(.prepare(slot: s, db: dbSlot, flags: flags, sql: range))
                    live[stmt] = s
                }
            case .bind(let stmt, let index, let value):
                let s = try slot(stmt)
                switch value {
                case .null: ops.append(.bindNull(slot: s, index: index))
                case .int(let v): ops.append(.bindInt(slot: s, index: index, value: v))
                case .double(let v): ops.append(.bindDouble(slot: s, index: index, value: v))
                case .text(let t): ops.append(.bindText(slot: s, index: index, bytes: store(t)))
                case .blob(let b): ops.append(.bindBlob(slot: s, index: index, bytes: store(b)))
                }
            case .step(let stmt, let rc):
                let s = try slot(stmt)
                steps += 1
                if !running[Int(s)] { statements += 1 }
                running[Int(s)] = rc == 100  // SQLITE_ROW: more to come; anything else ends the run
                stepped[Int(s)] = true
                ops.append(.step(slot: s, expect: rc))
            case .reset(let stmt):
                let s = try slot(stmt)
                running[Int(s)] = false
                stepped[Int(s)] = false
                ops.append(.reset(slot: s))
            case .clearBindings(let stmt):
                ops.append(.clearBindings(slot: try slot(stmt)))
            case .finalize(let stmt):
                let s = try slot(stmt)
                live[stmt] = nil
                free[keyOfSlot[Int(s)], default: []].append(s)
            }
        }
    }
}
