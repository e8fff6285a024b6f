using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace Alora.IO;

/// <summary>
/// Strict UTF-8 for every text file Alora reads. .NET's default decoder replaces invalid bytes with U+FFFD
/// without a word, which changes the text (and every count made on it, such as bits per byte); here an
/// invalid byte is an <see cref="AloraException"/> naming the file, the byte offset (0-based) and the line.
/// A UTF-8 byte order mark is skipped; a UTF-16 or UTF-32 one is an error (the bytes are not UTF-8).
/// </summary>
internal static class Utf8Text
{
    /// <summary>UTF-8 that throws <see cref="DecoderFallbackException"/> on invalid bytes and emits no byte order mark.</summary>
    public static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>The length of a UTF-8 byte order mark at the start of <paramref name="bytes"/> (3 or 0); throws for a UTF-16/32 one.</summary>
    public static int BomLength(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith(Bom))
            return Bom.Length;
        // FF FE is also the start of UTF-32 LE's mark; both are "not UTF-8" all the same.
        if (bytes.Length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
            throw new AloraException(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"{path}: is UTF-16 or UTF-32 text (byte order mark {bytes[0]:X2} {bytes[1]:X2} at byte offset 0); save it as UTF-8"
                )
            );
        return 0;
    }

    /// <summary>Reads a whole file as strict UTF-8 (a leading UTF-8 byte order mark is dropped).</summary>
    public static string ReadFile(string path) => Decode(path, File.ReadAllBytes(path));

    /// <summary>Decodes a whole file's bytes as strict UTF-8 (a leading UTF-8 byte order mark is dropped).</summary>
    public static string Decode(string path, ReadOnlySpan<byte> bytes)
    {
        var bom = BomLength(path, bytes);
        var invalid = FirstInvalid(bytes[bom..]);
        if (invalid >= 0)
            throw InvalidAt(path, bytes, bom + invalid);
        return Strict.GetString(bytes[bom..]);
    }

    /// <summary>A whole file's bytes, checked as strict UTF-8, without a leading UTF-8 byte order mark.</summary>
    public static ReadOnlyMemory<byte> ReadBytes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var bom = BomLength(path, bytes);
        var invalid = FirstInvalid(bytes.AsSpan(bom));
        if (invalid >= 0)
            throw InvalidAt(path, bytes, bom + invalid);
        return bytes.AsMemory(bom);
    }

    /// <summary>
    /// A reader of strict UTF-8 text that skips a UTF-8 byte order mark; reading past an invalid byte throws
    /// <see cref="DecoderFallbackException"/>, which <see cref="InvalidFile"/> turns into the precise error.
    /// </summary>
    public static StreamReader OpenReader(string path)
    {
        var stream = File.OpenRead(path);
        try
        {
            Span<byte> head = stackalloc byte[3];
            var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            stream.Position = BomLength(path, head[..n]);
            return new StreamReader(stream, Strict, detectEncodingFromByteOrderMarks: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The error for a file a strict reader failed on: the decoder reads ahead in blocks, so its exception does not
    /// say which line holds the bad byte; the file is scanned again, block by block, to find it.
    /// </summary>
    public static AloraException InvalidFile(string path, DecoderFallbackException inner)
    {
        const int Size = 1 << 16;
        using var stream = File.OpenRead(path);
        var buffer = ArrayPool<byte>.Shared.Rent(Size);
        var chars = ArrayPool<char>.Shared.Rent(Size);
        try
        {
            long offset = 0,
                lines = 0; // file offset of buffer[0]; newlines before it
            var carried = 0;
            for (var first = true; ; first = false)
            {
                var n = stream.Read(buffer, carried, Size - carried);
                var block = buffer.AsSpan(0, carried + n);
                var start = first ? BomLength(path, block) : 0;
                var status = Utf8.ToUtf16(block[start..], chars, out var read, out _, replaceInvalidSequences: false, isFinalBlock: n == 0);
                var at = start + read;
                if (status == OperationStatus.InvalidData)
                    return Error(path, offset + at, lines + block[..at].Count((byte)'\n') + 1, block[at..], inner);
                if (n == 0)
                    break;
                // NeedMoreData: an incomplete sequence at the end of the block is carried into the next read.
                lines += block[..at].Count((byte)'\n');
                offset += at;
                carried = block.Length - at;
                block[at..].CopyTo(buffer);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<char>.Shared.Return(chars);
        }
        return new AloraException($"{path}: not valid UTF-8 text ({inner.Message})", inner);
    }

    /// <summary>The offset of the first byte that does not start a valid UTF-8 sequence, or -1 when all of them do.</summary>
    public static int FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return -1;
        var chars = ArrayPool<char>.Shared.Rent(1 << 16);
        try
        {
            for (var pos = 0; ; )
            {
                // DestinationTooSmall only means "more to decode": every byte yields at most one char.
                var status = Utf8.ToUtf16(bytes[pos..], chars, out var read, out _, replaceInvalidSequences: false);
                pos += read;
                if (status == OperationStatus.InvalidData)
                    return pos;
                if (status == OperationStatus.Done)
                    return -1;
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>The error for an invalid sequence at <paramref name="offset"/> of a file held whole in <paramref name="bytes"/>.</summary>
    public static AloraException InvalidAt(string path, ReadOnlySpan<byte> bytes, long offset) =>
        Error(path, offset, bytes[..(int)offset].Count((byte)'\n') + 1, bytes[(int)offset..], null);

    static AloraException Error(string path, long offset, long line, ReadOnlySpan<byte> rest, Exception? inner)
    {
        var shown = Convert.ToHexString(rest[..Math.Min(rest.Length, 4)]);
        var hex = string.Join(' ', Enumerable.Range(0, shown.Length / 2).Select(i => shown.Substring(2 * i, 2)));
        var message = string.Create(
            CultureInfo.InvariantCulture,
            $"{path}: not valid UTF-8 at byte offset {offset} (line {line}; bytes {hex}); save the file as UTF-8"
        );
        return inner is null ? new AloraException(message) : new AloraException(message, inner);
    }
}
