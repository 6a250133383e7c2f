import ArgumentParser
import Foundation

extension KanbanEvents {
    /// A usage error exits 2, as in `kanban-bridge` (see its UsageExit.swift), not the parser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
