using System.Globalization;
using System.Text;
using Alora.Data;
using CsCheck;

namespace Alora.Tests.Properties;

/// <summary>How a generated file is damaged after it is written: an invalid UTF-8 sequence in the first record, or a record's closing brace cut.</summary>
internal enum Damage
{
    None,
    Utf8,
    Cut,
}

/// <summary>A data file to read and what must come of it: the expected values, or null when it must fail (at <see cref="Record"/> when given).</summary>
internal sealed record DataCase<T>(
    string Why,
    Layout Layout,
    List<Rec> Records,
    T? Expected,
    int? Record = null,
    Damage Damage = Damage.None,
    byte[]? Bad = null
)
    where T : class
{
    public override string ToString() => $"{Why}: {(Expected is null ? "must fail" : "must read")}; {Layout}\n{string.Join("\n", Records)}";
}

/// <summary>
/// General corpora (JSON Lines / JSON with <c>text</c> or <c>input_ids</c>, plain text) and prompt/completion
/// files: generated files read back exactly; single-record mutations (wrong types, missing fields, ids that are not
/// non-negative 32-bit integers, fields given twice, invalid UTF-8, unpaired surrogate escapes, cut records) are
/// refused with an <see cref="AloraException"/> naming the file and the place. Replaying a failure: see <see cref="PropertyRun"/>.
/// </summary>
public sealed class DataPropertyTests : IDisposable
{
    /// <summary>A seed printed by a failing run, to replay that case first; null for random cases only.</summary>
    const string? Seed = null;

    readonly CaseDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static readonly string[] BadIds = ["-1", "2147483648", "1.5", "1e2", "1.0", "\"3\"", "null", "true", "[]", "{}", "-2147483649"];

    /// <summary>A corpus of texts or of id lists (the first record decides which, as the reader documents).</summary>
    static readonly Gen<(List<Rec> Records, List<CorpusDocument> Docs)> Corpus =
        from ids in Gen.Bool
        from n in Gen.Int[1, 8]
        from texts in DataCases.Text.Array[n]
        from idLists in Gen.Int[0, int.MaxValue].Array[0, 6].Array[n]
        from extras in DataCases.Extras.Array[n]
        from extraFirst in Gen.Bool.Array[n]
        select (
            Enumerable
                .Range(0, n)
                .Select(i =>
                {
                    var field = ids ? ("input_ids", "[" + string.Join(", ", idLists[i]) + "]") : ("text", texts[i].Json);
                    return new Rec(extraFirst[i] ? [.. extras[i], field] : [field, .. extras[i]]);
                })
                .ToList(),
            Enumerable.Range(0, n).Select(i => ids ? new CorpusDocument(null, idLists[i]) : new CorpusDocument(texts[i].Text, null)).ToList()
        );

    static readonly Gen<DataCase<List<CorpusDocument>>> CorpusCase =
        from c in Corpus
        from layout in Layout.Any
        from kind in Gen.Int[0, 9]
        from r in Gen.Int[0, c.Records.Count - 1]
        from pick in Gen.Int[0, 1000]
        select CorpusMutation(c.Records, c.Docs, layout, kind, r, pick);

    static DataCase<List<CorpusDocument>> CorpusMutation(List<Rec> records, List<CorpusDocument> docs, Layout layout, int kind, int r, int pick)
    {
        var field = docs[0].InputIds is null ? "text" : "input_ids";
        var other = field == "text" ? "input_ids" : "text";
        List<Rec> At(Rec rec)
        {
            var l = records.ToList();
            l[r] = rec;
            return l;
        }
        DataCase<List<CorpusDocument>> Invalid(string why, List<Rec> recs) => new(why, layout, recs, null, r);
        switch (kind)
        {
            case 0 or 1 or 2:
                // A corpus of nothing but empty documents is refused as a whole.
                return docs.All(d => d.Text is { Length: 0 } || d.InputIds is { Length: 0 })
                    ? new("only empty documents", layout, records, null)
                    : new("valid", layout, records, docs);
            case 3:
                return Invalid($"'{field}' missing", At(records[r].Without(field)));
            case 4 when field == "text":
                var bad = DataCases.NotStrings[pick % DataCases.NotStrings.Length];
                return Invalid($"text {bad}", At(records[r].With("text", bad)));
            case 4 or 6 when field == "input_ids":
                var ids = docs[r].InputIds!.Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
                var at = pick % (ids.Count + 1);
                ids.Insert(at, BadIds[pick % BadIds.Length]);
                var mutated = Invalid($"id {BadIds[pick % BadIds.Length]}", At(records[r].With("input_ids", "[" + string.Join(", ", ids) + "]")));
                // A file of one record whose one field is a list starting with an object reads as a wrapped dataset: another error, for the whole file.
                return records.Count == 1 && records[0].Fields.Count == 1 && at == 0 && BadIds[pick % BadIds.Length] == "{}"
                    ? mutated with
                    {
                        Record = null,
                    }
                    : mutated;
            case 5 when r > 0: // the first record decides the field; a later one with only the other is an error
                return Invalid($"'{other}' instead of '{field}'", At(records[r].Without(field).With(other, other == "text" ? "\"x\"" : "[1]")));
            case 5 or 7:
                return Invalid($"'{field}' twice", At(records[r].Twice(field)));
            case 6:
                return Invalid("unpaired surrogate escape", At(records[r].With("text", "\"a\\ud800\"")));
            case 8:
                return new(
                    "invalid UTF-8",
                    layout,
                    records,
                    null,
                    Damage: Damage.Utf8,
                    Bad: PropertyRun.InvalidUtf8Sequences[pick % PropertyRun.InvalidUtf8Sequences.Length]
                );
            default:
                return new("cut record", layout, records, null, r, Damage.Cut);
        }
    }

    [Fact]
    public void CorporaReadExactlyOrFailAtThePlace() =>
        PropertyRun.Check(
            CorpusCase,
            c =>
                CheckRecords(
                    _dir,
                    c,
                    path => TextCorpus.Read(path).ToList(),
                    (expected, docs) =>
                    {
                        Assert.Equal(expected.Count, docs.Count);
                        for (var i = 0; i < docs.Count; i++)
                        {
                            Assert.Equal(expected[i].Text, docs[i].Text);
                            Assert.Equal(expected[i].InputIds, docs[i].InputIds);
                        }
                    }
                ),
            iter: 10000,
            Seed,
            c => c.ToString()
        );

    static readonly Gen<DataCase<List<QaExample>>> QaCase =
        from n in Gen.Int[1, 6]
        from pairs in Gen.Select(DataCases.Text, DataCases.Text, DataCases.Extras, Gen.Bool).Array[n]
        from layout in Layout.Any
        from kind in Gen.Int[0, 7]
        from r in Gen.Int[0, n - 1]
        from pick in Gen.Int[0, 1000]
        let records = pairs
            .Select(p => new Rec(
                p.Item4
                    ? [("prompt", p.Item1.Json), ("completion", p.Item2.Json), .. p.Item3]
                    : [.. p.Item3, ("completion", p.Item2.Json), ("prompt", p.Item1.Json)]
            ))
            .ToList()
        let expected = pairs.Select(p => new QaExample(p.Item1.Text, p.Item2.Text)).ToList()
        let field = pick % 2 == 0 ? "prompt" : "completion"
        let at = (Func<Rec, List<Rec>>)(
            rec =>
            {
                var l = records.ToList();
                l[r] = rec;
                return l;
            }
        )
        select kind switch
        {
            0 or 1 or 2 => new DataCase<List<QaExample>>("valid", layout, records, expected),
            3 => new($"'{field}' missing", layout, at(records[r].Without(field)), null, r),
            4 => new(
                $"'{field}' not a string",
                layout,
                at(records[r].With(field, DataCases.NotStrings[pick % DataCases.NotStrings.Length])),
                null,
                r
            ),
            5 => new($"'{field}' twice", layout, at(records[r].Twice(field)), null, r),
            6 => new("unpaired surrogate escape", layout, at(records[r].With(field, "\"\\udfff\"")), null, r),
            _ => pick % 2 == 0
                ? new(
                    "invalid UTF-8",
                    layout,
                    records,
                    null,
                    Damage: Damage.Utf8,
                    Bad: PropertyRun.InvalidUtf8Sequences[pick % PropertyRun.InvalidUtf8Sequences.Length]
                )
                : new("cut record", layout, records, null, r, Damage.Cut),
        };

    [Fact]
    public void PromptCompletionFilesReadExactlyOrFailAtThePlace() =>
        PropertyRun.Check(
            QaCase,
            c => CheckRecords(_dir, c, path => QaCorpus.Read(path).ToList(), (expected, read) => Assert.Equal(expected, read)),
            iter: 5000,
            Seed,
            c => c.ToString()
        );

    /// <summary>Plain-text lines: no CR or LF inside; no U+FEFF, which at the start of a file is the byte order mark.</summary>
    static readonly Gen<string> Line = PropertyRun.Text.Select(s => new string(s.Where(ch => ch is not ('\r' or '\n' or '\ufeff')).ToArray()));

    /// <summary>
    /// Plain text read one document per line: each non-blank line trimmed, in order; an invalid UTF-8 sequence put at
    /// the start of a line is refused with that exact byte offset and line number.
    /// </summary>
    [Fact]
    public void PlainTextReadsExactlyOrNamesTheBadByte() =>
        PropertyRun.Check(
            Gen.Select(Line.Array[1, 12], Gen.Bool, Gen.Bool, Gen.Int[-30, 1000]),
            (lines, crlf, bom, damaged) =>
            {
                var nl = crlf ? "\r\n" : "\n";
                var text = Encoding.UTF8.GetBytes(string.Join(nl, lines) + nl);
                byte[] bytes = bom ? [0xEF, 0xBB, 0xBF, .. text] : text;
                var expected = lines.Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
                long? at = null;
                var line = 0;
                if (damaged >= 0)
                {
                    line = damaged % lines.Length;
                    at = (bom ? 3 : 0) + Encoding.UTF8.GetByteCount(string.Concat(lines.Take(line).Select(l => l + nl)));
                    var bad = PropertyRun.InvalidUtf8Sequences[damaged % PropertyRun.InvalidUtf8Sequences.Length];
                    bytes = [.. bytes[..(int)at], .. bad, .. bytes[(int)at..]];
                }
                PropertyRun.WithFile(_dir, ".txt", bytes, path =>
                {
                    var (docs, error) = PropertyRun.Outcome(path, () => TextCorpus.Read(path, TextSplit.Lines).ToList());
                    if (at is { } offset)
                    {
                        Assert.Null(docs);
                        Assert.Contains(
                            string.Create(CultureInfo.InvariantCulture, $"{path}: not valid UTF-8 at byte offset {offset} (line {line + 1};"),
                            error,
                            StringComparison.Ordinal
                        );
                    }
                    else if (expected.Count == 0)
                    {
                        Assert.Equal($"{path}: contains no documents", error);
                    }
                    else
                    {
                        Assert.Equal(expected, docs!.Select(d => d.Text));
                    }
                });
            },
            iter: 5000,
            Seed
        );

    /// <summary>
    /// Writes the case, damages it if asked, reads it, and checks the outcome: the expected values, or an error that
    /// names the file and the record's line or item (or the byte offset and line of invalid UTF-8).
    /// </summary>
    internal static void CheckRecords<T>(CaseDir dir, DataCase<T> c, Func<string, T> read, Action<T, T> assertEqual)
        where T : class
    {
        var (bytes, lines, offsets) = c.Layout.Write(c.Records);
        string? place = c.Record is { } r ? c.Layout.Where(r, lines) + ":" : null;
        switch (c.Damage)
        {
            case Damage.Utf8:
                var (corrupt, at, line) = DataCases.Corrupt(bytes, offsets[0], c.Bad!);
                (bytes, place) = (corrupt, string.Create(CultureInfo.InvariantCulture, $": not valid UTF-8 at byte offset {at} (line {line};"));
                break;
            case Damage.Cut:
                var end = c.Record + 1 < offsets.Length ? offsets[c.Record!.Value + 1] : bytes.Length;
                var brace = Array.LastIndexOf(bytes, (byte)'}', end - 1);
                bytes = [.. bytes[..brace], .. bytes[(brace + 1)..]];
                place = c.Layout.Array ? ": malformed JSON" : place; // a whole array fails to parse: its error names a line of the file
                break;
        }
        PropertyRun.WithFile(dir, c.Layout.Extension, bytes, path =>
        {
            var (value, error) = PropertyRun.Outcome(path, () => read(path));
            if (c.Expected is null)
            {
                if (value is not null)
                    throw new InvalidOperationException($"an invalid file was read ({c.Why})");
                if (place is not null && !error!.StartsWith(place[0] == ':' ? path + place : $"{path} {place}", StringComparison.Ordinal))
                    throw new InvalidOperationException($"the error does not name {place}: {error}");
                return;
            }
            if (value is null)
                throw new InvalidOperationException($"a valid file was refused ({c.Why}): {error}");
            assertEqual(c.Expected, value);
        });
    }
}
