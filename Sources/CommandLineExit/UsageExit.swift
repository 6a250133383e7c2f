import ArgumentParser
import Foundation

/// Runs `command`'s command line as the argument parser would, except that a usage error (an unknown
/// option, a missing argument, a value that does not parse, a failed `validate()`) exits 2, as
/// `--help` and the README say ("2 bad request or usage"), instead of the parser's 64 (EX_USAGE).
/// Both CLIs (`kanban-bridge`, `kanban-events`) start here.
public func mainExitingTwoOnUsageErrors<Command: ParsableCommand>(_ command: Command.Type) {
    do {
        var parsed = try command.parseAsRoot()
        try parsed.run()
    } catch {
        if command.exitCode(for: error) == .validationFailure {
            FileHandle.standardError.write(Data((command.fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
        command.exit(withError: error)
    }
}
