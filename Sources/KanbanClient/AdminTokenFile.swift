import Foundation

/// Why `serve` will not use an `admin.token` (or write one where it would be): the file, what is
/// wrong with it, and what to do.
public struct UntrustedAdminToken: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public let remedy: String

    public var description: String { "refusing the admin token file \(path): \(problem). \(remedy)" }
}

/// The checks `serve` makes before it trusts `admin.token`. In a directory others can write to
/// (a shared /tmp, a group directory), another user could create the file first with a token they
/// know, and become admin. So the file must be a regular file, the serving user's, readable by no
/// one else, in a directory where nobody else can swap it.
enum AdminTokenFile {
    /// The token in the file at `path`, nil when there is none. Throws `UntrustedAdminToken`.
    static func readTrusted(_ path: String) throws -> String? {
        try checkDirectory(of: path)
        var link = stat()
        guard lstat(path, &link) == 0 else {
            if errno == ENOENT { return nil }
            throw untrusted(path, "it cannot be examined (\(String(cString: strerror(errno))))", remedy: removeIt)
        }
        // Before opening: opening a FIFO or a device can block or have effects of its own.
        try checkKind(link.st_mode, path)
        // O_NOFOLLOW, then judge what was opened: a file swapped after lstat cannot slip through.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP { try checkKind(S_IFLNK, path) }  // made a link after lstat looked
            throw untrusted(path, "it cannot be read (\(String(cString: strerror(errno))))", remedy: removeIt)
        }
        defer { close(fd) }
        var opened = stat()
        guard fstat(fd, &opened) == 0 else { throw untrusted(path, "it cannot be examined", remedy: removeIt) }
        try checkKind(opened.st_mode, path)
        try checkOwnerAndMode(opened, path)
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &bytes, bytes.count)
        let token = count > 0 ? String(decoding: bytes[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        guard !token.isEmpty else { throw untrusted(path, "it is empty", remedy: removeIt) }
        return token
    }

    /// The checks of `readTrusted` without opening the file, against `owner` as the user serve runs
    /// as (`doctor` may run as root or another user, who could not read it). Whether the file exists.
    static func vet(_ path: String, owner: uid_t) throws -> Bool {
        try checkDirectory(of: path)
        var link = stat()
        guard lstat(path, &link) == 0 else {
            if errno == ENOENT { return false }
            throw untrusted(path, "it cannot be examined (\(String(cString: strerror(errno))))", remedy: removeIt)
        }
        try checkKind(link.st_mode, path)
        try checkOwnerAndMode(link, path, owner: owner)
        return true
    }

    /// A directory others may write to without the sticky bit lets them rename or delete any file in
    /// it, ours included, and put their own in its place.
    static func checkDirectory(of path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var info = stat()
        guard stat(dir, &info) == 0 else { return }  // creating the file will say what is wrong
        guard info.st_mode & 0o022 != 0, info.st_mode & S_ISVTX == 0 else { return }
        throw untrusted(path, "its directory \(dir) (mode \(octal(info.st_mode))) can be written by other users and has no sticky bit, "
                            + "so anyone could replace the file with one whose token they know",
                        remedy: "Keep the board in a directory only its owner can write (chmod go-w \(dir)), or add the sticky bit "
                            + "(chmod +t \(dir)); or set $\(AdminToken.environmentKey) instead of using the file")
    }

    private static func checkKind(_ mode: mode_t, _ path: String) throws {
        switch mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK:
            throw untrusted(path, "it is a symbolic link; serve does not follow one here, it could point anywhere", remedy: removeIt)
        default:
            throw untrusted(path, "it is not a regular file", remedy: removeIt)
        }
    }

    private static func checkOwnerAndMode(_ info: stat, _ path: String, owner: uid_t = geteuid()) throws {
        guard info.st_uid == owner else {
            throw untrusted(path, "it is owned by \(user(info.st_uid)), not by \(user(owner)) who runs serve: another user may have put it "
                                + "there to know the admin token",
                            remedy: "Remove it, so serve writes a new one; if the file is yours, chown it to \(user(owner)); or set "
                                + "$\(AdminToken.environmentKey) instead of using the file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw untrusted(path, "it has mode \(octal(info.st_mode)): other users can read or change it, it must be 0600 or stricter",
                            remedy: "If someone else may have read it, remove it, so serve writes a new token (and give admin clients "
                                + "the new one); if not, run: chmod 600 \(path)")
        }
    }

    private static let removeIt = "Remove it, so serve writes a new one, or set $\(AdminToken.environmentKey) instead of using the file"

    private static func untrusted(_ path: String, _ problem: String, remedy: String) -> UntrustedAdminToken {
        UntrustedAdminToken(path: path, problem: problem, remedy: remedy)
    }

    private static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// "uid 65534 (nobody)", or just the uid when it has no name.
    private static func user(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "uid \(uid) (\(String(cString: name)))"
    }
}
