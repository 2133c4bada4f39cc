//! [`field_table!`]: one REST row type's fields, declared once.

/// Declares a row type's fields, each as `"name": Type = |row| value`, where `Type` is a
/// [`FieldType`](crate::http::query::FieldType) variant and `value` a
/// [`FieldValue`](super::FieldValue) read from `row`. Makes a unit struct holding:
///
/// - `SCHEMA`: the query schema, every field's name and type in the table's order;
/// - `cell(row, name)`: one field as filters and `order` compare it (null for a name the
///   table does not have);
/// - `write(row, map, keep)`: the fields `keep` accepts, as JSON object entries.
///
/// With `: impl rows` after the row type it also implements [`QueryRow`] and
/// [`WriteFields`](super::WriteFields) with them; a row type with several tables (a
/// service: one per kind) implements them by hand.
///
/// The fields must be listed in sorted order of their names, the order a
/// `serde_json::Map` writes its keys in, which the JSON writer keeps: a table out of order,
/// or naming a field twice, fails the build. The expansion is plain code per field (a
/// `match` on the name, one entry written after another, each of its own type), as fast as
/// writing it out by hand.
///
/// [`QueryRow`]: crate::http::query::QueryRow
macro_rules! field_table {
    (
        $(#[$attribute:meta])*
        $vis:vis struct $table:ident for $row:ty : impl rows {
            $($fields:tt)*
        }
    ) => {
        field_table! {
            $(#[$attribute])*
            $vis struct $table for $row { $($fields)* }
        }

        impl $crate::http::query::QueryRow for $row {
            #[inline]
            fn cell(
                &self,
                field: &'static str,
                _: $crate::http::query::FieldType,
            ) -> $crate::http::query::Cell<'_> {
                $table::cell(self, field)
            }
        }

        impl $crate::http::rows::WriteFields for $row {
            fn write_fields<M: ::serde::ser::SerializeMap>(
                &self,
                map: &mut M,
                keep: $crate::http::rows::Keep<'_>,
            ) -> Result<(), M::Error> {
                $table::write(self, map, keep)
            }
        }
    };
    (
        $(#[$attribute:meta])*
        $vis:vis struct $table:ident for $row:ty {
            $($name:literal : $field_type:ident = |$binding:pat_param| $value:expr),+ $(,)?
        }
    ) => {
        $(#[$attribute])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $table;

        impl $table {
            $vis const SCHEMA: $crate::http::query::Schema = $crate::http::query::Schema {
                fields: &[$(($name, $crate::http::query::FieldType::$field_type)),+],
            };

            /// The field's type is the schema's, from this same table: it is not looked at.
            #[allow(clippy::redundant_locals)]
            #[inline]
            $vis fn cell<'a>(row: &'a $row, field: &str) -> $crate::http::query::Cell<'a> {
                match field {
                    $($name => {
                        let $binding = row;
                        $crate::http::rows::FieldValue::cell($value)
                    })+
                    _ => $crate::http::query::Cell::Null,
                }
            }

            #[allow(clippy::redundant_locals)]
            $vis fn write<M: ::serde::ser::SerializeMap>(
                row: &$row,
                map: &mut M,
                keep: $crate::http::rows::Keep<'_>,
            ) -> Result<(), M::Error> {
                $(if keep.field($name) {
                    let $binding = row;
                    map.serialize_entry($name, &$value)?;
                })+
                Ok(())
            }
        }

        const _: () = assert!(
            $crate::http::rows::sorted_once($table::SCHEMA.fields),
            concat!(
                stringify!($table),
                ": a row's fields must be listed once each, in sorted order of their names"
            )
        );
    };
}
