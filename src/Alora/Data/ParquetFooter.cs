using System.Buffers.Binary;
using System.Globalization;

namespace Alora.Data;

/// <summary>
/// A bounds check of a Parquet file's footer before Parquet.Net reads it. The footer is a Thrift compact-protocol
/// struct; Parquet.Net trusts its element counts, and on a damaged footer that claims, say, 2^31 list elements it
/// loops (skipping elements that take no bytes in its reader) for minutes instead of failing. Here the struct is
/// walked once without building anything, and a count larger than the bytes left (every element of a compact
/// list, set or map takes at least one byte) or any read past the end is an error.
/// Layout: "PAR1", the data, the footer, its length as a 4-byte little-endian integer, "PAR1".
/// </summary>
internal static class ParquetFooter
{
    const int MaxDepth = 64;

    /// <summary>Checks the footer and returns its length in bytes.</summary>
    public static int Check(string path)
    {
        byte[] footer;
        using (var stream = File.OpenRead(path))
        {
            var length = stream.Length;
            if (length < 12)
                throw Bad(
                    path,
                    string.Create(CultureInfo.InvariantCulture, $"only {length} bytes, fewer than a Parquet file's magic numbers and footer length")
                );
            Span<byte> tail = stackalloc byte[8];
            stream.Seek(-8, SeekOrigin.End);
            stream.ReadExactly(tail);
            if (!tail[4..].SequenceEqual("PAR1"u8))
                throw Bad(path, "it does not end with the magic number PAR1 (truncated, or not Parquet)");
            var footerLength = BinaryPrimitives.ReadInt32LittleEndian(tail);
            if (footerLength <= 0 || footerLength > length - 12)
                throw Bad(
                    path,
                    string.Create(CultureInfo.InvariantCulture, $"footer length {footerLength} does not fit in the file's {length} bytes")
                );
            footer = new byte[footerLength];
            stream.Seek(-8 - footerLength, SeekOrigin.End);
            stream.ReadExactly(footer);
        }
        var walker = new Walker(path, footer);
        walker.Struct(0);
        return footer.Length;
    }

    static AloraException Bad(string path, string why) => new($"{path}: not a readable Parquet file ({why})");

    sealed class Walker(string path, byte[] bytes)
    {
        int _pos;

        int Left => bytes.Length - _pos;

        AloraException Damaged(string what) =>
            Bad(path, string.Create(CultureInfo.InvariantCulture, $"damaged footer: {what} at footer byte {_pos}"));

        byte Byte() => _pos < bytes.Length ? bytes[_pos++] : throw Damaged("the footer ends inside a value");

        void Skip(long n)
        {
            if (n < 0 || n > Left)
                throw Damaged($"a value of {n} bytes runs past the end");
            _pos += (int)n;
        }

        ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                var b = Byte();
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                    return value;
            }
            throw Damaged("a variable-length integer of more than 10 bytes");
        }

        /// <summary>A count of elements that each take at least <paramref name="minBytes"/>: more than the bytes left is damage.</summary>
        int Count(ulong n, int minBytes) => n <= (ulong)(Left / minBytes) ? (int)n : throw Damaged($"a count of {n} elements with {Left} bytes left");

        public void Struct(int depth)
        {
            if (depth > MaxDepth)
                throw Damaged("structs nested too deep");
            while (true)
            {
                var header = Byte();
                if (header == 0)
                    return; // stop
                var type = header & 0x0F;
                if ((header & 0xF0) == 0)
                    Varint(); // field id written out in full
                if (type is 1 or 2)
                    continue; // booleans live in the field header
                Value(type, depth);
            }
        }

        void Value(int type, int depth)
        {
            switch (type)
            {
                case 1 or 2 or 3:
                    Skip(1);
                    break; // a boolean element, or a byte
                case 4 or 5 or 6:
                    Varint();
                    break;
                case 7:
                    Skip(8);
                    break;
                case 8:
                    Skip((long)Math.Min(Varint(), long.MaxValue));
                    break;
                case 9 or 10:
                    var sizeAndType = Byte();
                    // Parquet's footer has no list of booleans or bytes; Parquet.Net skips such elements without
                    // reading a byte, so a damaged count there is what makes it spin.
                    if ((sizeAndType & 0x0F) is 1 or 2 or 3)
                        throw Damaged("a list of booleans or bytes");
                    var size = Count((sizeAndType >> 4) == 15 ? Varint() : (ulong)(sizeAndType >> 4), 1);
                    if (depth > MaxDepth)
                        throw Damaged("containers nested too deep");
                    for (var i = 0; i < size; i++)
                        Value(sizeAndType & 0x0F, depth + 1);
                    break;
                case 11:
                    var entries = Count(Varint(), 2);
                    if (entries == 0)
                        break;
                    var types = Byte();
                    for (var i = 0; i < entries; i++)
                    {
                        Value(types >> 4, depth + 1);
                        Value(types & 0x0F, depth + 1);
                    }
                    break;
                case 12:
                    Struct(depth + 1);
                    break;
                case 13:
                    Skip(16);
                    break;
                default:
                    throw Damaged($"unknown Thrift type {type}");
            }
        }
    }
}
