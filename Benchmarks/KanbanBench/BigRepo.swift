import Foundation

/// A git repository of a realistic size (tens of thousands of files), the kind whose `git worktree
/// add` takes seconds: what the stall scenario and the stall tests run pools against.
public enum BigRepo {
    /// Creates a repository at `path` with `files` small files in directories of 100, one commit.
    public static func make(at path: String, files: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let dirs = max(1, (files + 99) / 100)
        // One shell, builtins only: writing 20k files this way takes about a second.
        let script = """
            set -e
            git init -q -b main .
            d=0
            while [ $d -lt \(dirs) ]; do
              mkdir -p src/d$d; f=0
              while [ $f -lt 100 ] && [ $((d * 100 + f)) -lt \(files) ]; do echo "file $d/$f" > src/d$d/f$f.txt; f=$((f + 1)); done
              d=$((d + 1))
            done
            git add -A
            git -c user.email=bench@localhost -c user.name=bench commit -q -m "\(files) files"
            """
        try run(["/bin/sh", "-c", script], cwd: path)
    }

    static func run(_ argv: [String], cwd: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("\(argv.joined(separator: " ")) failed in \(cwd): \(p.terminationStatus)") }
    }
}
