using System.Text;
using CsCheck;
using static Alora.Tests.Properties.SafeTensorsCases;

namespace Alora.Tests.Properties;

/// <summary>
/// Mutations of a valid generated file, each with the outcome the format's rules give it: most must fail; the ones
/// that keep the file valid (a dtype of the same size, a shape of the same element count, an ignored extra field,
/// removing a zero-size tensor, a null "__metadata__", escaped spellings of names) must load with exactly the
/// changed values. The rule behind each "must fail" is in the comment of its case.
/// </summary>
internal static class SafeTensorsMutations
{
    static readonly string[] Dtypes = [.. FormatBits.Keys, "F12", "f32", "", "float32"];
    static readonly string[] NonStrings = ["1", "null", "[\"F32\"]", "{}", "true"];
    static readonly string[] BadShapes =
    [
        "[-1]",
        "[2.0]",
        "[\"2\"]",
        "[null]",
        "\"2\"",
        "{}",
        "[1e2]",
        "[9223372036854775808]",
        "[4611686018427387905,4]",
        "[2,9223372036854775807]",
        "null",
    ];
    static readonly string[] BadOffsets = ["[0]", "[0,0,0]", "[]", "[-1,0]", "[0,4.0]", "[\"0\",\"4\"]", "null", "0", "[0,18446744073709551616]"];
    static readonly string[] BadMetadata =
    [
        "{\"k\":1}",
        "{\"k\":null}",
        "{\"k\":[\"a\"]}",
        "{\"k\":{\"x\":\"y\"}}",
        "{\"k\":true}",
        "[]",
        "\"pt\"",
        "1",
        "{\"k\":\"a\",\"k\":\"b\"}",
    ];

    public static readonly Gen<OpenCase> Any = from f in SafeTensorsCases.File from kind in Gen.Int[0, 18] from c in Mutate(f, kind) select c;

    static Gen<OpenCase> Mutate(FileCase f, int kind)
    {
        var (entries, data) = Lay(f);
        var expected = f.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var meta = MetadataJson(f.Metadata);
        var nonEmpty = entries.Select((e, i) => (e, i)).Where(x => x.e.End > x.e.Begin).Select(x => x.i).ToArray();
        OpenCase Valid(string why, IEnumerable<Entry> es, Dictionary<string, TensorCase> exp, string m, Dictionary<string, string> md) =>
            new(why, Bytes(Header(es, m), data, f.Padding), exp, md);
        OpenCase Invalid(string why, IEnumerable<Entry> es, string m = "", byte[]? d = null, string? padding = null) =>
            new(why, Bytes(Header(es, m.Length > 0 ? m : meta), d ?? data, padding ?? f.Padding), null, null);
        List<Entry> With(int i, Entry e)
        {
            var l = entries.ToList();
            l[i] = e;
            return l;
        }
        // Unindexed trailing bytes: the fallback of mutations that need a tensor when the file has none.
        Gen<OpenCase> Trailing() => Gen.Byte.Array[1, 9].Select(extra => Invalid("trailing bytes", entries, d: [.. data, .. extra]));

        switch (kind)
        {
            case 0:
                return Gen.Const(Valid("unchanged", entries, expected, meta, f.Metadata));
            case 1: // a range moved by k != 0 no longer tiles the data (the others fill all but its old place)
                if (nonEmpty.Length == 0)
                    return Trailing();
                return Gen.Select(Gen.OneOf(nonEmpty), Gen.Int[-9, 9].Where(k => k != 0), (i, k) =>
                    Invalid(
                        $"range of '{entries[i].Name}' moved by {k}",
                        With(i, entries[i] with { Begin = entries[i].Begin + k, End = entries[i].End + k })
                    )
                );
            case 2: // end moved: the span no longer equals shape x element size
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Select(Gen.Int[0, entries.Count - 1], Gen.Int[-9, 9].Where(k => k != 0), (i, k) =>
                    Invalid($"end of '{entries[i].Name}' moved by {k}", With(i, entries[i] with { End = entries[i].End + k }))
                );
            case 3:
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Select(Gen.Int[0, entries.Count - 1], Gen.OneOf(Dtypes), (i, d) => ChangeDtype(i, d));
            case 4:
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Select(Gen.Int[0, entries.Count - 1], Gen.Long[0, 6].Array[0, 3], (i, shape) => ChangeShape(i, shape));
            case 5: // malformed numbers and types in shape or offsets, a non-string dtype
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Select(Gen.Int[0, entries.Count - 1], Gen.Int[0, 2], Gen.Int[0, 100], (i, what, j) => what switch
                    {
                        0 => Invalid(
                            $"shape {BadShapes[j % BadShapes.Length]}",
                            With(i, entries[i] with { ShapeJson = BadShapes[j % BadShapes.Length] })
                        ),
                        1 => Invalid(
                            $"offsets {BadOffsets[j % BadOffsets.Length]}",
                            With(i, entries[i] with { Offsets = BadOffsets[j % BadOffsets.Length] })
                        ),
                        _ => Invalid(
                            $"dtype {NonStrings[j % NonStrings.Length]}",
                            With(i, entries[i] with { DType = NonStrings[j % NonStrings.Length] })
                        ),
                    });
            case 6: // a removed entry leaves its bytes unindexed, unless it had none
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Int[0, entries.Count - 1]
                    .Select(i =>
                    {
                        var rest = entries.Where((_, j) => j != i).ToList();
                        return entries[i].End == entries[i].Begin
                            ? Valid(
                                $"zero-size '{entries[i].Name}' removed",
                                rest,
                                expected.Where(kv => kv.Key != entries[i].Name).ToDictionary(StringComparer.Ordinal),
                                meta,
                                f.Metadata
                            )
                            : Invalid($"'{entries[i].Name}' removed", rest);
                    });
            case 7: // a name given twice
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Int[0, entries.Count - 1].Select(i => Invalid($"'{entries[i].Name}' twice", [.. entries, entries[i]]));
            case 8: // a second name for bytes another tensor owns
                if (nonEmpty.Length == 0)
                    return Trailing();
                return Gen.OneOf(nonEmpty)
                    .Select(i => Invalid($"'{entries[i].Name}' aliased", [.. entries, entries[i] with { Name = entries[i].Name + "~alias" }]));
            case 9:
                return Trailing();
            case 10: // "The header data MUST begin with a { character"; padding is JSON whitespace only
                return Gen.Select(Gen.String[Gen.Char[" \t\r\n"], 1, 3], Gen.String[Gen.Char["\0\u0001"], 1, 3], Gen.Bool, (ws, nul, lead) =>
                    lead
                        ? new OpenCase("leading whitespace", Bytes(ws + Header(entries, meta), data, f.Padding), null, null)
                        : Invalid("NUL padding", entries, padding: f.Padding + nul)
                );
            case 11: // metadata values are strings; the map itself an object or null
                return Gen.Select(Gen.OneOf(BadMetadata), Gen.Int[0, 5], (m, which) =>
                    which == 0
                        ? Valid("null metadata", entries, expected, "\"__metadata__\":null", [])
                        : Invalid($"metadata {m}", entries, "\"__metadata__\":" + m)
                );
            case 12: // the header length moved: data bytes become header or header bytes become data
                return Gen.Int[-16, 16]
                    .Where(k => k != 0)
                    .Select(k =>
                    {
                        var bytes = Bytes(Header(entries, meta), data, f.Padding);
                        var n = (long)BitConverter.ToUInt64(bytes) + k;
                        BitConverter.GetBytes((ulong)Math.Max(n, 0)).CopyTo(bytes, 0);
                        return new OpenCase($"header length {k:+0;-0}", bytes, null, null);
                    });
            case 13: // a cut file
                return Gen.Int[0, int.MaxValue]
                    .Select(r =>
                    {
                        var bytes = Bytes(Header(entries, meta), data, f.Padding);
                        return new OpenCase("truncated", bytes[..(r % bytes.Length)], null, null);
                    });
            case 14: // a field given twice in an entry, or extra fields (which the format ignores)
                if (entries.Count == 0)
                    return Trailing();
                return Gen.Select(Gen.Int[0, entries.Count - 1], Gen.Bool, Gen.OneOf("1", "\"x\"", "[1,{\"a\":null}]", "{}", "null"), (i, twice, v) =>
                    twice
                        ? Invalid($"dtype twice in '{entries[i].Name}'", With(i, entries[i] with { Extra = ",\"dtype\":" + entries[i].DType }))
                        : Valid(
                            $"extra field in '{entries[i].Name}'",
                            With(i, entries[i] with { Extra = ",\"note\":" + v }),
                            expected,
                            meta,
                            f.Metadata
                        )
                );
            case 15: // a byte that is not UTF-8 in the header
                return Gen.Select(PropertyRun.InvalidUtf8, Gen.Bool, (bad, inName) =>
                {
                    var es = inName && entries.Count > 0 ? With(0, entries[0] with { Name = entries[0].Name + "\u2603" }) : entries;
                    var m = es == entries ? "\"__metadata__\":{\"\u2603\":\"x\"}" : meta;
                    var header = Encoding.UTF8.GetBytes(Header(es, m) + f.Padding);
                    var at = header.AsSpan().IndexOf("\u2603"u8);
                    return new OpenCase("invalid UTF-8", Bytes([.. header[..at], .. bad, .. header[(at + 3)..]], data), null, null);
                });
            case 16: // an escape that is half a surrogate pair has no UTF-8 form
                return Gen.OneOf("\\ud800", "\\udfff", "a\\udbff")
                    .Select(esc =>
                        entries.Count > 0
                            ? Invalid("unpaired surrogate in a name", With(0, entries[0] with { NameJson = "\"" + esc + "\"" }))
                            : Invalid("unpaired surrogate in metadata", entries, "\"__metadata__\":{\"" + esc + "\":\"x\"}")
                    );
            case 17: // names spelled with escapes are the same names
                return Gen
                    .Bool.Array[entries.Sum(e => e.Name.Length)]
                    .Select(escape =>
                    {
                        var (spelled, at) = (new List<Entry>(), 0);
                        foreach (var e in entries)
                        {
                            spelled.Add(e with { NameJson = PropertyRun.JsonString(e.Name, escape.AsSpan(at, e.Name.Length)) });
                            at += e.Name.Length;
                        }
                        return Valid("escaped names", spelled, expected, meta, f.Metadata);
                    });
            default: // two tensors swap their ranges: valid when they have the same byte size, and each then holds the other's bytes
                if (entries.Count < 2)
                    return Trailing();
                return Gen.Select(Gen.Int[0, entries.Count - 1], Gen.Int[0, entries.Count - 1], (i, j) => Swap(i, j));
        }

        OpenCase ChangeDtype(int i, string dtype)
        {
            var t = expected[entries[i].Name];
            var elements = t.Shape.Aggregate(1L, (a, b) => a * b);
            var ok = FormatBits.TryGetValue(dtype, out var bits) && elements * bits % 8 == 0 && elements * bits / 8 == t.Data.Length;
            return ok
                ? Valid(
                    $"dtype {t.DType} -> {dtype}",
                    With(i, entries[i] with { DType = Json(dtype) }),
                    Replace(expected, t with { DType = dtype }),
                    meta,
                    f.Metadata
                )
                : Invalid($"dtype {t.DType} -> {dtype}", With(i, entries[i] with { DType = Json(dtype) }));
        }

        OpenCase ChangeShape(int i, long[] shape)
        {
            var t = expected[entries[i].Name];
            var ok = shape.Aggregate(1L, (a, b) => a * b) * Size(t.DType) == t.Data.Length;
            return ok
                ? Valid(
                    $"shape {Shape(t.Shape)} -> {Shape(shape)}",
                    With(i, entries[i] with { ShapeJson = Shape(shape) }),
                    Replace(expected, t with { Shape = shape }),
                    meta,
                    f.Metadata
                )
                : Invalid($"shape {Shape(t.Shape)} -> {Shape(shape)}", With(i, entries[i] with { ShapeJson = Shape(shape) }));
        }

        OpenCase Swap(int i, int j)
        {
            var (a, b) = (entries[i], entries[j]);
            var swapped = With(i, a with { Begin = b.Begin, End = b.End });
            swapped[j] = b with { Begin = a.Begin, End = a.End };
            if (i == j || a.End - a.Begin != b.End - b.Begin)
                return i == j
                    ? Valid("no swap", entries, expected, meta, f.Metadata)
                    : Invalid($"'{a.Name}' and '{b.Name}' swap ranges of different sizes", swapped);
            var (ta, tb) = (expected[a.Name], expected[b.Name]);
            var exp = Replace(Replace(expected, ta with { Data = tb.Data }), tb with { Data = ta.Data });
            return Valid($"'{a.Name}' and '{b.Name}' swap equal-size ranges", swapped, exp, meta, f.Metadata);
        }
    }

    static Dictionary<string, TensorCase> Replace(Dictionary<string, TensorCase> d, TensorCase t) => new(d, StringComparer.Ordinal) { [t.Name] = t };
}
