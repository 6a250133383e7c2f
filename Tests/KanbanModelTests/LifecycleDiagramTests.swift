import Foundation
import KanbanModel
import XCTest

/// docs/ARCHITECTURE.md's lifecycle diagram is generated from `TaskLifecycle` itself: each edge below
/// is found by running a command on a snapshot and reading the status its effects write. If a rule
/// changes, this test fails and prints the diagram to paste.
final class LifecycleDiagramTests: XCTestCase {
    static let now: Int64 = 1_700_000_000_000

    /// (from, command, to), found by running the lifecycle.
    static func edges() throws -> [(TaskStatus?, String, TaskStatus)] {
        let lane = Lane(name: "l")
        let claim = ClaimState(runID: 1, taskID: "t", lane: "l", leaseMs: 1000, leaseExpiresAtMs: now + 1000)
        let running = TaskState(id: "t", status: .running, assignee: "l", claimLock: ClaimLock.make(lane: "l", runID: 1), currentRunID: 1)
        var edges: [(TaskStatus?, String, TaskStatus)] = []
        func add(_ from: TaskStatus?, _ command: String, _ effects: LifecycleEffects?) {
            if let to = effects?.task?.newStatus { edges.append((from, command, to)) }
        }
        for parents in [[TaskStatus](), [.running]] {
            let spec = TaskSpec(title: "t")
            let (status, _) = TaskLifecycle.create(id: "t", spec: spec, parents: [], parentStatuses: parents)
            edges.append((nil, parents.isEmpty ? "create" : "create (parent unfinished)", status))
        }
        if case .open(let plan) = try TaskLifecycle.claim(TaskState(id: "t", status: .ready, assignee: "l"), taskID: "t", lane: lane,
                                                         named: false, leaseMs: 1000, nowMs: now) {
            add(.ready, "claim", plan.effects(runID: 1))
        }
        if case .demote(let e) = try TaskLifecycle.claim(TaskState(id: "t", status: .ready, assignee: "l", parentStatuses: [.running]),
                                                        taskID: "t", lane: lane, named: false, leaseMs: 1000, nowMs: now) {
            add(.ready, "claim (parent unfinished)", e)
        }
        add(.running, "complete", TaskLifecycle.complete(claim, result: nil, summary: nil, metadata: nil, nowMs: now))
        add(.running, "block", TaskLifecycle.block(claim, task: running, reason: nil, kind: nil))
        add(.running, "release", TaskLifecycle.release(claim, reason: nil))
        add(.running, "fail (retry)", TaskLifecycle.fail(claim, task: running, outcome: .crashed, error: "", payload: [:],
                                                         retry: RetryPolicy(maxRetries: 3), nowMs: now))
        add(.running, "fail (limit reached)", TaskLifecycle.fail(claim, task: running, outcome: .crashed, error: "", payload: [:],
                                                                 retry: RetryPolicy(maxRetries: 1), nowMs: now))
        add(.running, "reclaim", try TaskLifecycle.reclaim(running, taskID: "t", reason: nil))
        add(.blocked, "unblock", try TaskLifecycle.unblock(TaskState(id: "t", status: .blocked), taskID: "t"))
        add(.blocked, "unblock (parent unfinished)",
            try TaskLifecycle.unblock(TaskState(id: "t", status: .blocked, parentStatuses: [.running]), taskID: "t"))
        add(.ready, "link to an unfinished parent", try TaskLifecycle.link(parent: "p", parentStatus: .running,
                                                                           child: TaskState(id: "t", status: .ready), childID: "t", closesCycle: false))
        add(.todo, "promote (parents finished)", TaskLifecycle.promote(TaskState(id: "t", status: .todo, parentStatuses: [.done])))
        return edges
    }

    static func mermaid() throws -> String {
        let lines = try edges().map { from, command, to in
            "    \(from?.rawValue ?? "[*]") --> \(to.rawValue): \(command)"
        }
        return (["```mermaid", "stateDiagram-v2"] + lines + ["```"]).joined(separator: "\n")
    }

    func test_architectureDoc_drawsTheLifecycleTheCodeHas() throws {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/ARCHITECTURE.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let diagram = try Self.mermaid()
        XCTAssertTrue(text.contains(diagram), "docs/ARCHITECTURE.md must contain the lifecycle diagram; paste:\n\(diagram)")
        XCTAssertGreaterThanOrEqual(try Self.edges().count, 14, "every command that moves a task is drawn")
    }
}
