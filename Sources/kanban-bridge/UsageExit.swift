import ArgumentParser
import Foundation

extension KanbanBridge {
    /// Runs the command line as the argument parser would, except that a usage error (an unknown
    /// option, a missing argument, a value that does not parse, a failed `validate()`) exits 2, as
    /// `--help` and the README say ("2 bad request or usage"), instead of the parser's 64 (EX_USAGE).
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
