import Foundation

/// The console's static files (`Resources/console/`, shipped in the binary's resource bundle), read
/// once at start and served from memory. A request names a key in that table, never a path on disk,
/// so `..` and symlinks lead nowhere; and a missing bundle serves nothing rather than failing `serve`.
public struct ConsoleFiles: Sendable {
    public struct File: Sendable {
        public let bytes: [UInt8]
        public let contentType: String
    }

    /// URL path (`/`, `/app.js`, `/css/site.css`) → file.
    public let files: [String: File]

    public init(files: [String: File]) { self.files = files }

    /// Every regular file under `directory`, keyed by its path from there; `/` serves `index.html`.
    public static func load(directory: URL) -> ConsoleFiles {
        var files: [String: File] = [:]
        let root = directory.standardizedFileURL.path
        if let walker = FileManager.default.enumerator(atPath: root) {
            while let relative = walker.nextObject() as? String {
                let path = root + "/" + relative
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                      let data = FileManager.default.contents(atPath: path) else { continue }
                files["/" + relative] = File(bytes: Array(data), contentType: contentType(forPath: relative))
            }
        }
        if let index = files["/index.html"] { files["/"] = index }
        return ConsoleFiles(files: files)
    }

    /// The console shipped with this binary (SwiftPM resource bundle), or none.
    public static func bundled() -> ConsoleFiles {
        guard let url = Bundle.module.url(forResource: "console", withExtension: nil) else { return ConsoleFiles(files: [:]) }
        return load(directory: url)
    }

    public func file(at path: String) -> File? { files[path] }

    /// Content types by extension; anything unknown is served as bytes (and `nosniff` keeps a browser
    /// from guessing a script out of it).
    static func contentType(forPath path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        case "woff2": return "font/woff2"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}
