import ArgumentParser
import Foundation
import KanbanConfig
import KanbanModel
import KanbanStore
import Logging

/// `serve --config`: the file is the declared state. Declared lanes are registered or brought to
/// their declared settings at start; lanes registered by hand and not declared are left alone, and named.
enum ConfigApply {
    static func apply(_ declared: [Lane], to board: any LaneRegistry, log: Logger) throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let registered = try board.lanes().map(\.lane)
        for change in ConfigDiff.changes(declared: declared, registered: registered) {
            switch change {
            case .missing(let lane):
                _ = try board.defineLane(lane, newTokenHash: Secrets.hash(Secrets.newToken(prefix: "lt_")), nowMs: now)
                log.notice("registered lane from config", metadata: [
                    "lane": "\(lane.name)", "kind": "\(lane.kind.rawValue)",
                    "token": "get one with `kanban-bridge lanes rotate-token \(lane.name)`",
                ])
            case .differs(let name, let fields):
                guard let lane = declared.first(where: { $0.name == name }) else { continue }
                _ = try board.defineLane(lane, newTokenHash: "", nowMs: now)
                log.notice("updated lane to match config", metadata: ["lane": "\(name)", "changed": "\(fields.joined(separator: "; "))"])
            case .undeclared(let name):
                log.warning("lane is registered but not in the config; left as it is", metadata: ["lane": "\(name)"])
            }
        }
    }
}
