import Foundation
import KanbanModel
import XCTest

/// A status word reaches the store's SQL only from its enum (`TaskStatus.sql`, `RunStatus`,
/// `RunOutcome.runStatusSQL`), through the predicates of BoardPredicates.swift: typed as an SQL
/// literal (`'ready'`) it would be a second definition that can drift from the first.
final class StatusWordsTests: XCTestCase {
    /// Files that may spell a status word as an SQL literal. BoardPredicates.swift builds them from
    /// the enums and spells none today; it is the one place that would.
    static let allowed: Set<String> = ["BoardPredicates.swift"]

    static var words: [String] {
        Array(Set(TaskStatus.allCases.map(\.rawValue) + RunOutcome.allCases.flatMap { [$0.rawValue, $0.runStatus] } + [RunStatus.open]))
            .sorted()
    }

    func test_storeSources_typeNoStatusWordAsAnSQLLiteral() throws {
        let sources = Self.repoRoot.appendingPathComponent("Sources")
        var files: [URL] = []
        for module in ["KanbanStore", "KanbanModel"] {
            let dir = sources.appendingPathComponent(module)
            files += try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter { $0.pathExtension == "swift" }
        }
        XCTAssertGreaterThan(files.filter { $0.path.contains("/KanbanStore/") }.count, 10, "the store's sources were not found")
        var found: [String] = []
        for file in files where !Self.allowed.contains(file.lastPathComponent) {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for word in Self.literals(in: String(line)) {
                    found.append("\(file.lastPathComponent):\(n + 1): '\(word)'")
                }
            }
        }
        XCTAssertEqual(found, [], "status words typed as SQL literals; use TaskStatus.sql / RunStatus / a predicate of BoardPredicates.swift")
    }

    /// The claim lock's format (`lane:<lane>:<run>`) is `ClaimLock`'s: SQL builds it with
    /// `ClaimLock.sql` and matches it with `ClaimLock.likeSQL`, never by spelling `'lane:`.
    func test_storeSources_spellNoClaimLockPrefix() throws {
        var found: [String] = []
        let dir = Self.repoRoot.appendingPathComponent("Sources/KanbanStore")
        for file in try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil) where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.contains("'lane:") {
                found.append("\(file.lastPathComponent):\(n + 1)")
            }
        }
        XCTAssertEqual(found, [], "the claim lock spelled in SQL; use ClaimLock.sql / ClaimLock.likeSQL")
    }

    /// The scan itself finds what it looks for (a scan that finds nothing anywhere proves nothing).
    func test_scan_findsAQuotedStatusWord() {
        XCTAssertEqual(Self.literals(in: "SELECT 1 FROM tasks WHERE status = 'ready' AND x = 'lost'"), ["ready"])
        XCTAssertEqual(Self.literals(in: "run.status = 'timed_out'"), ["timed_out"])
        XCTAssertEqual(Self.literals(in: "status = \\(TaskStatus.ready.sql)"), [])
    }

    /// The status words quoted as SQL string literals in `line`.
    static func literals(in line: String) -> [String] {
        words.filter { line.contains("'\($0)'") }
    }

    static var repoRoot: URL {
        // Tests/KanbanStoreTests/StatusWordsTests.swift → the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
