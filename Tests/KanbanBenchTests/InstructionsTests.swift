import XCTest
@testable import KanbanBench

/// The pure parts of `kanban-bench --instructions`: callgrind totals, the per-task difference, the
/// SQL trace of Benchmarks/sqltrace/sqltrace.c and the replay program made from it.
final class InstructionsTests: XCTestCase {
    func test_totals_prefersTheTotalsLine_andFallsBackToSummary() {
        let profile = """
            # callgrind format
            version: 1
            events: Ir
            summary: 26449575

            fn=(1) main
            3 12
            totals: 26449576
            """
        XCTAssertEqual(Callgrind.totalInstructions(profile: profile), 26_449_576)
        XCTAssertEqual(Callgrind.totalInstructions(profile: "events: Ir Dr\nsummary: 10 20\n"), 10)
        XCTAssertNil(Callgrind.totalInstructions(profile: "events: Ir\nfn=main\n"))
    }

    func test_perTask_isTheDifferenceOverTheExtraTasks() {
        XCTAssertEqual(Callgrind.perTask(small: 500_000_000, large: 3_070_000_000, smallTasks: 200, largeTasks: 1200), 2_570_000)
        // The large run may cost less than expected, never a crash on unsigned subtraction.
        XCTAssertEqual(Callgrind.perTask(small: 10, large: 5, smallTasks: 1, largeTasks: 6), -1)
    }

    func test_command_putsCollectAtStartAfterTheToggles() {
        let argv = Callgrind.command(["a.out", "x"], outFile: "p.out", toggleCollect: ["f"], collectAtStart: true)
        XCTAssertEqual(argv, ["valgrind", "--tool=callgrind", "--callgrind-out-file=p.out", "--toggle-collect=f",
                              "--collect-atstart=yes", "a.out", "x"])
    }

    func test_traceLines_parseEveryRecord() throws {
        let text = """
            O 0x4053fd8 33587206 /tmp/b oard.db
            P 0x4053fd8 0x404dbe8 1 SELECT 'a\\\\b', ?\\x0aFROM t
            B 0x404dbe8 1 n
            B 0x404dbe8 2 i -42
            B 0x404dbe8 3 f 0.10000000000000001
            B 0x404dbe8 4 t hello world
            B 0x404dbe8 5 t 
            B 0x404dbe8 6 b 00ff
            S 0x404dbe8 100
            R 0x404dbe8
            C 0x404dbe8
            F 0x404dbe8
            S 0x404dbe8 1
            """ + "\n"
        let events = try SQLTrace.parse(Array(text.utf8))
        XCTAssertEqual(events, [
            .open(db: 0x4053fd8, flags: 33_587_206, filename: "/tmp/b oard.db"),
            .prepare(db: 0x4053fd8, stmt: 0x404dbe8, flags: 1, sql: Array("SELECT 'a\\b', ?\nFROM t".utf8)),
            .bind(stmt: 0x404dbe8, index: 1, value: .null),
            .bind(stmt: 0x404dbe8, index: 2, value: .int(-42)),
            .bind(stmt: 0x404dbe8, index: 3, value: .double(0.1)),
            .bind(stmt: 0x404dbe8, index: 4, value: .text(Array("hello world".utf8))),
            .bind(stmt: 0x404dbe8, index: 5, value: .text([])),
            .bind(stmt: 0x404dbe8, index: 6, value: .blob([0x00, 0xff])),
            .step(stmt: 0x404dbe8, rc: 100),
            .reset(stmt: 0x404dbe8),
            .clearBindings(stmt: 0x404dbe8),
            .finalize(stmt: 0x404dbe8),
            .step(stmt: 0x404dbe8, rc: 1),
        ])
    }

    func test_trace_ignoresAnUnfinishedLastLine_andNamesTheBadLine() throws {
        XCTAssertEqual(try SQLTrace.parse(Array("R 0x1\nS 0x1 1".utf8)), [.reset(stmt: 1)])
        XCTAssertThrowsError(try SQLTrace.parse(Array("R 0x1\nB 0x1 1 q 3\n".utf8))) { error in
            XCTAssertEqual((error as? SQLTrace.ParseError)?.line, 2)
        }
        XCTAssertThrowsError(try SQLTrace.parse(Array("P 0x1 0x2 0 bad \\x4\n".utf8)))
        XCTAssertThrowsError(try SQLTrace.parse(Array("B 0x1 1 b abc\n".utf8)))
    }

    /// GRDB's way with BEGIN: prepared, run and finalized every time. The program prepares it once.
    func test_program_preparesEachSQLOnce_andResetsAReusedStatement() throws {
        let begin = Array("BEGIN".utf8), select = Array("SELECT ?".utf8)
        let events: [SQLTrace.Event] = [
            .open(db: 9, flags: 6, filename: "/b.db"),
            .prepare(db: 9, stmt: 1, flags: 0, sql: begin), .step(stmt: 1, rc: 101), .finalize(stmt: 1),
            .prepare(db: 9, stmt: 2, flags: 1, sql: select), .bind(stmt: 2, index: 1, value: .text(Array("x".utf8))),
            .step(stmt: 2, rc: 100), .step(stmt: 2, rc: 101), .reset(stmt: 2),
            .prepare(db: 9, stmt: 1, flags: 0, sql: begin), .step(stmt: 1, rc: 101), .finalize(stmt: 1),
        ]
        let program = try SQLReplayProgram(events: events)
        XCTAssertEqual(program.connections, [.init(filename: "/b.db", flags: 6)])
        XCTAssertEqual(program.slotCount, 2)
        XCTAssertEqual(program.ops, [
            .prepare(slot: 0, db: 0, flags: 0, sql: 0..<5),
            .step(slot: 0, expect: 101),
            .prepare(slot: 1, db: 0, flags: 1, sql: 5..<13),
            .bindText(slot: 1, index: 1, bytes: 13..<14),
            .step(slot: 1, expect: 100), .step(slot: 1, expect: 101), .reset(slot: 1),
            .reset(slot: 0),  // BEGIN again: the statement it finished is reset before it runs again
            .step(slot: 0, expect: 101),
        ])
        XCTAssertEqual(program.bytes, Array("BEGINSELECT ?x".utf8))
        XCTAssertEqual(program.steps, 4)
        XCTAssertEqual(program.statements, 3)  // BEGIN, the SELECT (two steps), BEGIN
    }

    func test_program_givesTwoLiveStatementsOfOneSQLTwoSlots() throws {
        let sql = Array("SELECT 1".utf8)
        let program = try SQLReplayProgram(events: [
            .open(db: 9, flags: 6, filename: "/b.db"),
            .prepare(db: 9, stmt: 1, flags: 0, sql: sql),
            .prepare(db: 9, stmt: 2, flags: 0, sql: sql),
            .step(stmt: 2, rc: 100), .step(stmt: 1, rc: 100),
        ])
        XCTAssertEqual(program.slotCount, 2)
        XCTAssertEqual(program.ops.last, .step(slot: 0, expect: 100))
        XCTAssertThrowsError(try SQLReplayProgram(events: [.step(stmt: 7, rc: 101)]))
    }

    func test_replayOutcomeLine_parses() {
        XCTAssertEqual(ReplayCommand.parseOutcome("noise\nreplay steps=95040 mismatches=0\n")?.steps, 95_040)
        XCTAssertNil(ReplayCommand.parseOutcome("replay-sql: first mismatch at op 3\n"))
    }

    func test_instructionOptions_needTwoGrowingSizes() throws {
        XCTAssertEqual(try BenchCommand.parse(["--instructions"]).instructionSizes().large, 1200)
        XCTAssertThrowsError(try BenchCommand.parse(["--instructions", "--instruction-tasks", "1200,200"]))
        XCTAssertThrowsError(try BenchCommand.parse(["--compare", "/old"]))
    }
}
