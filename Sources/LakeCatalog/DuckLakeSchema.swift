
/// The DuckLake 1.0 catalog tables, column for column as DuckDB 1.5.5's ducklake extension
/// creates them in a SQLite metadata database (compared with `sqlite_master` of a catalog it
/// made, `weReadALakeDuckDBBuilt`), so DuckDB 1.5+ attaches our manifest without migration and
/// we open one it made. `Catalog.upgrade` turns a 0.3 catalog into exactly these tables.
enum DuckLakeSchema {
    /// The version new catalogs get and the only one this build writes.
    static let version = "1.0"
    /// The version earlier builds (and DuckDB 1.3/1.4) wrote: read, and upgraded by `lake upgrade`.
    static let legacyVersion = "0.3"

    static let tables: [String] = [
        #"CREATE TABLE ducklake_metadata("key" VARCHAR NOT NULL, "value" VARCHAR NOT NULL, "scope" VARCHAR, scope_id BIGINT)"#,
        "CREATE TABLE ducklake_snapshot(snapshot_id BIGINT PRIMARY KEY, snapshot_time VARCHAR, schema_version BIGINT, next_catalog_id BIGINT, next_file_id BIGINT)",
        "CREATE TABLE ducklake_snapshot_changes(snapshot_id BIGINT PRIMARY KEY, changes_made VARCHAR, author VARCHAR, commit_message VARCHAR, commit_extra_info VARCHAR)",
        "CREATE TABLE ducklake_schema(schema_id BIGINT PRIMARY KEY, schema_uuid VARCHAR, begin_snapshot BIGINT, end_snapshot BIGINT, schema_name VARCHAR, path VARCHAR, path_is_relative BIGINT)",
        "CREATE TABLE ducklake_table(table_id BIGINT, table_uuid VARCHAR, begin_snapshot BIGINT, end_snapshot BIGINT, schema_id BIGINT, table_name VARCHAR, path VARCHAR, path_is_relative BIGINT)",
        #"CREATE TABLE ducklake_view(view_id BIGINT, view_uuid VARCHAR, begin_snapshot BIGINT, end_snapshot BIGINT, schema_id BIGINT, view_name VARCHAR, dialect VARCHAR, "sql" VARCHAR, column_aliases VARCHAR)"#,
        #"CREATE TABLE ducklake_tag(object_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, "key" VARCHAR, "value" VARCHAR)"#,
        #"CREATE TABLE ducklake_column_tag(table_id BIGINT, column_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, "key" VARCHAR, "value" VARCHAR)"#,
        "CREATE TABLE ducklake_data_file(data_file_id BIGINT PRIMARY KEY, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, file_order BIGINT, path VARCHAR, path_is_relative BIGINT, file_format VARCHAR, record_count BIGINT, file_size_bytes BIGINT, footer_size BIGINT, row_id_start BIGINT, partition_id BIGINT, encryption_key VARCHAR, mapping_id BIGINT, partial_max BIGINT)",
        "CREATE TABLE ducklake_file_column_stats(data_file_id BIGINT, table_id BIGINT, column_id BIGINT, column_size_bytes BIGINT, value_count BIGINT, null_count BIGINT, min_value VARCHAR, max_value VARCHAR, contains_nan BIGINT, extra_stats VARCHAR)",
        "CREATE TABLE ducklake_file_variant_stats(data_file_id BIGINT, table_id BIGINT, column_id BIGINT, variant_path VARCHAR, shredded_type VARCHAR, column_size_bytes BIGINT, value_count BIGINT, null_count BIGINT, min_value VARCHAR, max_value VARCHAR, contains_nan BIGINT, extra_stats VARCHAR)",
        "CREATE TABLE ducklake_delete_file(delete_file_id BIGINT PRIMARY KEY, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, data_file_id BIGINT, path VARCHAR, path_is_relative BIGINT, format VARCHAR, delete_count BIGINT, file_size_bytes BIGINT, footer_size BIGINT, encryption_key VARCHAR, partial_max BIGINT)",
        "CREATE TABLE ducklake_column(column_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, table_id BIGINT, column_order BIGINT, column_name VARCHAR, column_type VARCHAR, initial_default VARCHAR, default_value VARCHAR, nulls_allowed BIGINT, parent_column BIGINT, default_value_type VARCHAR, default_value_dialect VARCHAR)",
        "CREATE TABLE ducklake_table_stats(table_id BIGINT, record_count BIGINT, next_row_id BIGINT, file_size_bytes BIGINT)",
        "CREATE TABLE ducklake_table_column_stats(table_id BIGINT, column_id BIGINT, contains_null BIGINT, contains_nan BIGINT, min_value VARCHAR, max_value VARCHAR, extra_stats VARCHAR)",
        "CREATE TABLE ducklake_partition_info(partition_id BIGINT, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT)",
        #"CREATE TABLE ducklake_partition_column(partition_id BIGINT, table_id BIGINT, partition_key_index BIGINT, column_id BIGINT, "transform" VARCHAR)"#,
        "CREATE TABLE ducklake_file_partition_value(data_file_id BIGINT, table_id BIGINT, partition_key_index BIGINT, partition_value VARCHAR)",
        "CREATE TABLE ducklake_files_scheduled_for_deletion(data_file_id BIGINT, path VARCHAR, path_is_relative BIGINT, schedule_start VARCHAR)",
        "CREATE TABLE ducklake_inlined_data_tables(table_id BIGINT, table_name VARCHAR, schema_version BIGINT)",
        #"CREATE TABLE ducklake_column_mapping(mapping_id BIGINT, table_id BIGINT, "type" VARCHAR)"#,
        "CREATE TABLE ducklake_name_mapping(mapping_id BIGINT, column_id BIGINT, source_name VARCHAR, target_field_id BIGINT, parent_column BIGINT, is_partition BIGINT)",
        "CREATE TABLE ducklake_schema_versions(begin_snapshot BIGINT, schema_version BIGINT, table_id BIGINT)",
        "CREATE TABLE ducklake_macro(schema_id BIGINT, macro_id BIGINT, macro_name VARCHAR, begin_snapshot BIGINT, end_snapshot BIGINT)",
        #"CREATE TABLE ducklake_macro_impl(macro_id BIGINT, impl_id BIGINT, dialect VARCHAR, "sql" VARCHAR, "type" VARCHAR)"#,
        "CREATE TABLE ducklake_macro_parameters(macro_id BIGINT, impl_id BIGINT, column_id BIGINT, parameter_name VARCHAR, parameter_type VARCHAR, default_value VARCHAR, default_value_type VARCHAR)",
        "CREATE TABLE ducklake_sort_info(sort_id BIGINT, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT)",
        "CREATE TABLE ducklake_sort_expression(sort_id BIGINT, table_id BIGINT, sort_key_index BIGINT, expression VARCHAR, dialect VARCHAR, sort_direction VARCHAR, null_order VARCHAR)",
    ]

    /// The same tables as DuckDB 1.5.5's ducklake extension creates them in PostgreSQL
    /// (`ATTACH 'ducklake:postgres:…'`, compared column by column in PostgresCatalogTests):
    /// the SQLite DDL with PostgreSQL's types where DuckDB uses them: flags are BOOLEAN, uuids
    /// UUID, snapshot times TIMESTAMPTZ.
    static var postgresTables: [String] { tables.map(postgresDDL) }

    static let postgresColumnTypes: [String: String] = [
        "path_is_relative": "BOOLEAN", "nulls_allowed": "BOOLEAN", "contains_nan": "BOOLEAN", "contains_null": "BOOLEAN",
        "is_partition": "BOOLEAN", "schema_uuid": "UUID", "table_uuid": "UUID", "view_uuid": "UUID",
        "snapshot_time": "TIMESTAMPTZ", "schedule_start": "TIMESTAMPTZ",
    ]

    static func postgresDDL(_ ddl: String) -> String {
        var out = ddl
        for (column, type) in postgresColumnTypes {
            for old in ["BIGINT", "VARCHAR"] {
                out = out.replacingOccurrences(of: "(\(column) \(old)", with: "(\(column) \(type)")
                    .replacingOccurrences(of: " \(column) \(old)", with: " \(column) \(type)")
            }
        }
        return out
    }

    /// Tables DuckLake 1.0 added; a 0.3 catalog has every other table of `tables`.
    static let addedIn10: Set<String> = [
        "ducklake_file_variant_stats", "ducklake_macro", "ducklake_macro_impl", "ducklake_macro_parameters",
        "ducklake_sort_info", "ducklake_sort_expression",
    ]

    static var tableNames: [String] { tables.map(name(ofDDL:)) }

    static func name(ofDDL ddl: String) -> String {
        ddl.split(separator: " ").dropFirst(2).first.map { String($0.prefix { $0 != "(" }) } ?? ""
    }

    /// The tables a DuckLake catalog of `version` must have for us to read it.
    static func requiredTables(version: String) -> [String] {
        version == legacyVersion ? tableNames.filter { !addedIn10.contains($0) } : tableNames
    }

    /// Every catalog column this build reads, by table. A catalog newer than 1.0 (DuckDB 2.0's
    /// DuckLake 1.1 adds columns and tables) is read only while all of these are still there;
    /// what else it holds we neither read nor change.
    static let readColumns: [String: [String]] = [
        "ducklake_metadata": ["key", "value", "scope"],
        "ducklake_snapshot": ["snapshot_id", "snapshot_time", "schema_version", "next_catalog_id", "next_file_id"],
        "ducklake_snapshot_changes": ["snapshot_id", "changes_made", "author", "commit_message", "commit_extra_info"],
        "ducklake_schema": ["schema_id", "begin_snapshot", "end_snapshot", "schema_name", "path", "path_is_relative"],
        "ducklake_table": ["table_id", "table_uuid", "begin_snapshot", "end_snapshot", "schema_id", "table_name", "path", "path_is_relative"],
        "ducklake_column": ["column_id", "begin_snapshot", "end_snapshot", "table_id", "column_order", "column_name", "column_type",
                            "initial_default", "default_value", "nulls_allowed", "parent_column"],
        "ducklake_data_file": ["data_file_id", "table_id", "begin_snapshot", "end_snapshot", "path", "path_is_relative", "record_count",
                               "file_size_bytes", "footer_size", "row_id_start", "partial_max"],
        "ducklake_file_column_stats": ["data_file_id", "table_id", "column_id", "column_size_bytes", "value_count", "null_count",
                                       "min_value", "max_value", "contains_nan"],
        "ducklake_delete_file": ["delete_file_id", "table_id", "begin_snapshot", "end_snapshot", "data_file_id", "path",
                                 "path_is_relative", "delete_count"],
        "ducklake_partition_info": ["partition_id", "table_id", "begin_snapshot", "end_snapshot"],
        "ducklake_partition_column": ["partition_id", "table_id", "partition_key_index", "column_id", "transform"],
        "ducklake_file_partition_value": ["data_file_id", "table_id", "partition_key_index", "partition_value"],
        "ducklake_inlined_data_tables": ["table_id", "table_name"],
    ]
}
