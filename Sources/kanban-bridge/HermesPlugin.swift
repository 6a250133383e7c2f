import ArgumentParser
import Foundation
import KanbanConfig

/// `kanban-bridge hermes-plugin install`: puts the Lanes tab into Hermes' dashboard.
///
/// The plugin is a directory of plain files (integrations/hermes-dashboard/kanban-lanes) that Hermes
/// reads from `<hermes home>/plugins/<name>/`; installing it is a copy. It is copied from a path
/// rather than from the binary's resources, so Hermes' users can read, diff and edit what they
/// install, and a change to the plugin needs no rebuild.
struct HermesPlugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hermes-plugin",
        abstract: "Install the Lanes tab into Hermes' web dashboard (Hermes 0.19 dashboard plugins).",
        subcommands: [Install.self])

    static let pluginName = "kanban-lanes"
    /// Where the plugin lives in a checkout of this repository.
    static let repoPath = "integrations/hermes-dashboard/kanban-lanes"

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the kanban-lanes plugin into <hermes home>/plugins/kanban-lanes (replacing an older copy).",
            discussion: """
                Then enable it (`hermes plugins enable kanban-lanes --no-allow-tool-override`) and restart \
                `hermes dashboard`. The tab reads the bridge's HTTP API through its own Python route: set \
                KANBAN_BRIDGE_HTTP (default http://127.0.0.1:8080) and KANBAN_BRIDGE_TOKEN or \
                KANBAN_BRIDGE_TOKEN_FILE (a lane token is enough) where the dashboard runs, or \
                `kanban_bridge: {http: …, token_file: …}` in Hermes' config.yaml. See docs/CONSOLE.md.
                """)

        @Option(help: ArgumentHelp("Hermes' home (default: $HERMES_HOME, else ~/.hermes).", valueName: "dir"))
        var hermesHome: String?

        @Option(name: .customLong("from"),
                help: ArgumentHelp("The plugin directory to copy (default: \(HermesPlugin.repoPath) in this checkout).", valueName: "dir"))
        var source: String?

        func run() throws {
            let files = FileManager.default
            guard let from = source.map(absolute) ?? HermesPlugin.locate() else {
                printError("cannot find \(HermesPlugin.repoPath) above the current directory or the binary; pass --from DIR")
                throw ExitCode(2)
            }
            guard files.fileExists(atPath: from + "/dashboard/manifest.json") else {
                printError("\(from) is not the plugin: it has no dashboard/manifest.json")
                throw ExitCode(2)
            }
            let home = absolute(hermesHome ?? HermesCaps.defaultHome())
            let destination = home + "/plugins/" + HermesPlugin.pluginName
            do {
                try files.createDirectory(atPath: home + "/plugins", withIntermediateDirectories: true)
                // Replace, not merge: a file an older version had and this one dropped must not linger
                // (Hermes imports dashboard/plugin_api.py as code).
                if files.fileExists(atPath: destination) { try files.removeItem(atPath: destination) }
                let copied = try HermesPlugin.copyTree(from: from, to: destination)
                print("installed \(copied) files in \(destination)")
            } catch {
                printError("could not install into \(destination): \(error.localizedDescription)")
                throw ExitCode(1)
            }
            print("""
                next:
                  hermes plugins enable \(HermesPlugin.pluginName) --no-allow-tool-override
                  export KANBAN_BRIDGE_HTTP=http://127.0.0.1:8080 KANBAN_BRIDGE_TOKEN_FILE=/path/to/lane.token
                  hermes dashboard            # restart it if it runs: plugins are read at start
                """)
        }

        private func absolute(_ path: String) -> String {
            let expanded = NSString(string: path).expandingTildeInPath
            return URL(fileURLWithPath: expanded).standardizedFileURL.path
        }
    }

    /// The plugin in the checkout this command runs from: above the current directory, else above
    /// the binary (a build sits in <checkout>/.build/<config>/kanban-bridge).
    static func locate() -> String? {
        var starts = [FileManager.default.currentDirectoryPath]
        if let binary = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            starts.append(binary.deletingLastPathComponent().path)
        }
        for start in starts {
            var dir = URL(fileURLWithPath: start)
            while true {
                let candidate = dir.appendingPathComponent(repoPath).path
                if FileManager.default.fileExists(atPath: candidate + "/dashboard/manifest.json") { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }

    /// Copies regular files and directories, skipping Python caches and anything hidden; refuses
    /// symlinks, so the copy holds only what is really in the plugin. Returns the file count.
    static func copyTree(from: String, to: String) throws -> Int {
        let files = FileManager.default
        try files.createDirectory(atPath: to, withIntermediateDirectories: true)
        var count = 0
        for name in try files.contentsOfDirectory(atPath: from).sorted()
        where !name.hasPrefix(".") && name != "__pycache__" {
            let source = from + "/" + name, target = to + "/" + name
            let type = try files.attributesOfItem(atPath: source)[.type] as? FileAttributeType
            switch type {
            case .typeDirectory?: count += try copyTree(from: source, to: target)
            case .typeRegular?:
                try files.copyItem(atPath: source, toPath: target)
                try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: target)
                count += 1
            default:
                throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: source,
                                                             NSLocalizedDescriptionKey: "\(source) is neither a file nor a directory"])
            }
        }
        return count
    }
}
