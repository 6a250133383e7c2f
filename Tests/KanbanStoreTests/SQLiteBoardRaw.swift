import GRDB

/// Another program's connection to the same board file (stands in for Hermes' sqlite3 writes).
struct SQLiteBoardRaw {
    let queue: DatabaseQueue
    init(path: String) throws { queue = try DatabaseQueue(path: path) }
    func exec(_ sql: String) throws { try queue.write { try $0.execute(sql: sql) } }
    func scalar(_ sql: String) throws -> String? { try queue.read { try String.fetchOne($0, sql: sql) } }
}
