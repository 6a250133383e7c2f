import Foundation
import GRDBSQLite

/// Runs an SQLReplayProgram against a copy of the board with the raw SQLite C API: the floor, what
/// the coordinator's own SQL costs with nothing around it (no request parsing, no GRDB, no reply).
/// Bound text and blobs are passed SQLITE_STATIC from one buffer, and result columns are not read:
/// this is the least any program running these statements could do.
public enum SQLReplay {
    /// What the replay saw: its steps, and how many returned something other than the
    /// coordinator's (0 when the replay was faithful: same board, same statements, same values).
    public struct Outcome: Sendable {
        public var steps: Int
        public var mismatches: Int
        public var firstMismatch: String?
    }

    /// The function callgrind counts alone (`--collect-atstart=no --toggle-collect=*floorReplayMeasuredLoop*`):
    /// reading and translating the trace and opening the connections stay out of the count.
    public static let measuredFunctionPattern = "*floorReplayMeasuredLoop*"

    /// Opens the program's connections (every file connection on `board`), runs the ops, closes.
    public static func run(_ program: SQLReplayProgram, board: String) throws -> Outcome {
        var dbs: [OpaquePointer?] = []
        defer { for db in dbs { sqlite3_close_v2(db) } }
        for c in program.connections {
            let path = (c.filename.isEmpty || c.filename == ":memory:" || c.filename.hasPrefix("file::memory:")) ? c.filename : board
            var db: OpaquePointer?
            let rc = sqlite3_open_v2(path, &db, c.flags, nil)
            dbs.append(db)
            guard rc == SQLITE_OK else { throw BenchError("replay: cannot open \(path): \(rc)") }
        }
        let statements = UnsafeMutablePointer<OpaquePointer?>.allocate(capacity: max(1, Int(program.slotCount)))
        statements.initialize(repeating: nil, count: max(1, Int(program.slotCount)))
        defer {
            for i in 0..<Int(program.slotCount) { sqlite3_finalize(statements[i]) }
            statements.deallocate()
        }
        // One buffer that outlives every statement, so binds can be SQLITE_STATIC (no copy).
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, program.bytes.count), alignment: 8)
        defer { bytes.deallocate() }
        bytes.copyBytes(from: program.bytes)
        var mismatch = MismatchLog()
        let base = bytes.baseAddress!
        let steps = program.ops.withUnsafeBufferPointer { ops in
            dbs.withUnsafeBufferPointer { dbs in
                floorReplayMeasuredLoop(ops, dbs: dbs.baseAddress!, statements: statements, bytes: base, mismatch: &mismatch)
            }
        }
        var firstMismatch: String?
        if let at = mismatch.firstOp {
            firstMismatch = "op \(at) (\(program.ops[at])): got \(mismatch.firstGot)"
            if case .step(let slot, _) = program.ops[at], let sql = sqlite3_sql(statements[Int(slot)]) {
                firstMismatch! += " on \(String(cString: sql).prefix(200))"
            }
        }
        return Outcome(steps: steps, mismatches: mismatch.count, firstMismatch: firstMismatch)
    }

    /// Calls that did not return what the coordinator's did (binds and prepares must return OK).
    struct MismatchLog {
        var count = 0
        var firstOp: Int?
        var firstGot: Int32 = 0
        mutating func note(_ op: Int, _ got: Int32) {
            count += 1
            if firstOp == nil { firstOp = op; firstGot = got }
        }
    }
}

/// The measured part of the floor: one SQLite call per op, a switch around it, nothing else. Kept
/// out of line so callgrind can find it by name. Returns the number of steps.
@inline(never)
func floorReplayMeasuredLoop(_ ops: UnsafeBufferPointer<SQLReplayProgram.Op>, dbs: UnsafePointer<OpaquePointer?>,
                             statements: UnsafeMutablePointer<OpaquePointer?>, bytes: UnsafeMutableRawPointer,
                             mismatch: inout SQLReplay.MismatchLog) -> Int {
    var steps = 0
    for i in 0..<ops.count {
        let rc: Int32
        var expect = SQLITE_OK
        switch ops[i] {
        case .prepare(let slot, let db, let flags, let sql):
            rc = sqlite3_prepare_v3(dbs[Int(db)], bytes.advanced(by: sql.lowerBound).assumingMemoryBound(to: CChar.self),
                                    Int32(sql.count), flags, &statements[Int(slot)], nil)
        case .bindNull(let slot, let index):
            rc = sqlite3_bind_null(statements[Int(slot)], index)
        case .bindInt(let slot, let index, let value):
            rc = sqlite3_bind_int64(statements[Int(slot)], index, value)
        case .bindDouble(let slot, let index, let value):
            rc = sqlite3_bind_double(statements[Int(slot)], index, value)
        case .bindText(let slot, let index, let range):
            rc = sqlite3_bind_text(statements[Int(slot)], index, bytes.advanced(by: range.lowerBound).assumingMemoryBound(to: CChar.self),
                                   Int32(range.count), nil)  // nil: SQLITE_STATIC
        case .bindBlob(let slot, let index, let range):
            rc = sqlite3_bind_blob(statements[Int(slot)], index, bytes.advanced(by: range.lowerBound), Int32(range.count), nil)
        case .step(let slot, let expected):
            steps += 1
            expect = expected
            rc = sqlite3_step(statements[Int(slot)])
        case .reset(let slot):
            // reset returns the last step's error again; the step was already checked.
            sqlite3_reset(statements[Int(slot)])
            rc = SQLITE_OK
        case .clearBindings(let slot):
            rc = sqlite3_clear_bindings(statements[Int(slot)])
        }
        if rc != expect { mismatch.note(i, rc) }
    }
    return steps
}
