import Foundation
import KanbanModel

/// How `SQLiteBoard` treats the file at its path before SQLite opens it.
public struct BoardFileOptions: Sendable, Equatable {
    /// Permission bits of a board file this process creates. SQLite gives `-wal` and `-shm` the bits
    /// of the main file, so this is the mode of all three. 0600: the board holds every task's title,
    /// body and result; share it through a group (0640, 0660), never with every local user.
    public var newFileMode: mode_t
    /// Make an existing empty (0-byte) file a new board. Off by default: an empty file where a board
    /// should be is more likely a board lost to a bad copy or a full disk than an invitation.
    public var initEmptyFile: Bool

    public init(newFileMode: mode_t = 0o600, initEmptyFile: Bool = false) {
        self.newFileMode = newFileMode
        self.initEmptyFile = initEmptyFile
    }
}

/// The board file as the file system sees it, before SQLite does.
enum BoardFile {
    enum Origin {
        /// This process created it just now (empty, with the requested mode).
        case created
        /// It was there before: an empty file the options allow, or a database to verify first.
        case existing(empty: Bool)
    }

    /// Creates the file with `options.newFileMode` when there is none, so SQLite never creates it
    /// under the process umask (0644 with the usual 022). Refuses an empty file that was there
    /// before unless `options.initEmptyFile`.
    static func prepare(path: String, options: BoardFileOptions) throws -> Origin {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.newFileMode)
        if fd >= 0 {
            // open() applies the umask; 0660 asked for must not become 0640.
            let changed = fchmod(fd, options.newFileMode)
            let why = errno
            close(fd)
            guard changed == 0 else { throw BoardError.incompatibleBoard("cannot set the mode of \(path): \(String(cString: strerror(why)))") }
            return .created
        }
        let why = errno
        guard why == EEXIST else {
            throw BoardError.incompatibleBoard("cannot create \(path): \(String(cString: strerror(why)))")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BoardError.incompatibleBoard("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw BoardError.incompatibleBoard("\(path) is not a regular file") }
        guard info.st_size == 0 else { return .existing(empty: false) }
        // Not ours: a board emptied by a bad copy or a full disk would otherwise be replaced by a
        // new, empty board without a word. (The flag's name is `serve`'s, the only caller.)
        guard options.initEmptyFile else {
            throw BoardError.incompatibleBoard(
                "\(path) is empty (0 bytes); if you mean to start a new board here, delete it or pass --init-empty-board")
        }
        return .existing(empty: true)
    }
}

extension SQLiteBoard {
    /// The board's files (main, `-wal`, `-shm`) that every local user can access (any "other"
    /// permission bit), with their modes. Missing files are left out. An existing board is never
    /// chmod-ed behind its owner's back: `serve` warns and `doctor` says what to run.
    public static func filesOpenToOthers(path: String) -> [(path: String, mode: mode_t)] {
        [path, path + "-wal", path + "-shm"].compactMap { file in
            var info = stat()
            guard stat(file, &info) == 0, info.st_mode & 0o007 != 0 else { return nil }
            return (file, info.st_mode & 0o7777)
        }
    }
}
