import Foundation
import GRDB
import KanbanModel
@testable import KanbanStore
import XCTest

/// A task update's prepared statement is keyed by its shape, and the shape alone makes the SQL text
/// and the order values are bound in: the same fields listed in another order reuse the statement
/// and still reach their own columns.
final class UpdateShapeTests: XCTestCase {
    func test_everyTaskField_fitsTheKey_inAllCasesOrder() {
        XCTAssertLessThanOrEqual(TaskField.allCases.count, UpdateShape.fieldBits, "widen UpdateShape.fieldBits (and the key) first")
        for (i, field) in TaskField.allCases.enumerated() {
            XCTAssertEqual(UpdateShape.ordinal(field), i, "\(field): the canonical order is TaskField.allCases'")
        }
        // The widest shape stays below the guard's bits, and the guard below the marker bit.
        let all = UInt32(1 << TaskField.allCases.count) - 1
        let widest = UpdateShape(set: all, keep: all, guardKind: .any)
        XCTAssertEqual(widest.key >> (2 * UpdateShape.fieldBits) & 0x3F, UpdateShape.GuardKind.any.rawValue)
        XCTAssertEqual(widest.key & ((1 << UpdateShape.fieldBits) - 1), Int(all))
        XCTAssertLessThan(widest.key, 1 << 41)
        XCTAssertGreaterThanOrEqual(UpdateShape(set: 0, keep: 0, guardKind: .runningUnder).key, 1 << 40,
                                    "update keys lie above the hot statements' keys (Hot)")
        XCTAssertLessThan(Hot.openClaims.rawValue, 1 << 20)
    }

    func test_distinctShapes_haveDistinctKeys_andTheKeyDecidesTheText() {
        var texts: [Int: String] = [:]
        let guards: [UpdateShape.GuardKind] = [.runningUnder, .claimable, .status, .any]
        for g in guards {
            for set in [UInt32(1), 3, 0b101, 0x7FFF] {
                for keep in [UInt32(0), set & 1] {
                    let shape = UpdateShape(set: set, keep: keep, guardKind: g)
                    XCTAssertNil(texts[shape.key], "two shapes share key \(shape.key)")
                    texts[shape.key] = shape.sql
                }
            }
        }
        XCTAssertEqual(Set(texts.values).count, texts.count, "one text per key")
    }

    func test_sameFieldsInAnotherOrder_bindToTheirOwnColumns() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("shapes")
        func update(_ fields: [(TaskField, FieldValue)]) throws {
            try f.board.apply(LifecycleEffects(task: TaskUpdate(t.id, .any, fields)), claimTokenHash: nil, nowMs: f.nowMs)
        }
        func columns() throws -> [String?] {
            try SQLiteBoardRaw(path: f.path).queue.read { db in
                let row = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT result, block_kind, last_failure_error FROM tasks WHERE id = ?",
                                                         arguments: [t.id]))
                return [row[0], row[1], row[2]]
            }
        }
        try update([(.result, .text("r1")), (.blockKind, .text("k1")), (.lastFailureError, .text("e1"))])
        XCTAssertEqual(try columns(), ["r1", "k1", "e1"])
        // The same shape, fields listed backwards: the statement prepared above serves it.
        try update([(.lastFailureError, .text("e2")), (.blockKind, .text("k2")), (.result, .text("r2"))])
        XCTAssertEqual(try columns(), ["r2", "k2", "e2"])
        try update([(.blockKind, .text("k3")), (.lastFailureError, .text("e3")), (.result, .text("r3"))])
        XCTAssertEqual(try columns(), ["r3", "k3", "e3"])
        // A field given twice: the last value wins, as SQLite's rightmost assignment would.
        try update([(.result, .text("first")), (.blockKind, .null), (.result, .text("last"))])
        XCTAssertEqual(try columns(), ["last", nil, "e3"])
    }

    func test_keptValues_followTheirField_inAnyOrder() throws {
        let f = try BoardFixture.sqlite()
        try f.lane("factory")
        let t = try f.task("kept")
        func update(_ fields: [(TaskField, FieldValue)]) throws {
            try f.board.apply(LifecycleEffects(task: TaskUpdate(t.id, .any, fields)), claimTokenHash: nil, nowMs: f.nowMs)
        }
        func columns() throws -> [Int64?] {
            try SQLiteBoardRaw(path: f.path).queue.read { db in
                let row = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT started_at, claim_expires FROM tasks WHERE id = ?", arguments: [t.id]))
                return [row[0], row[1]]
            }
        }
        try update([(.startedAt, .unlessSet(10)), (.claimExpires, .int(20))])
        XCTAssertEqual(try columns(), [10, 20])
        try update([(.claimExpires, .int(21)), (.startedAt, .unlessSet(11))])
        XCTAssertEqual(try columns(), [10, 21], "started_at kept its value, claim_expires took the new one")
    }
}
