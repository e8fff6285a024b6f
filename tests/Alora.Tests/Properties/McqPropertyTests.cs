using System.Globalization;
using Alora.Data;
using CsCheck;

namespace Alora.Tests.Properties;

/// <summary>
/// Multiple-choice files in SciQ's, PIQA's, MedMCQA's and the generic layout: generated items read back as exactly
/// the prompts, choices and answers of lm-evaluation-harness's templates (written out here from the design brief);
/// single-record mutations (missing or mistyped fields, labels, cop values and answers out of range, too few
/// choices, fields given twice, invalid UTF-8, unpaired surrogate escapes, cut records) are refused with an
/// <see cref="AloraException"/> naming the file and the record. Replaying a failure: see <see cref="PropertyRun"/>.
/// </summary>
public sealed class McqPropertyTests : IDisposable
{
    /// <summary>A seed printed by a failing run, to replay that case first; null for random cases only.</summary>
    const string? Seed = null;

    readonly CaseDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A generated item: its record, the expected item, and the fields a mutation may break (with values that break them).</summary>
    sealed record Item(Rec Record, McqItem Expected, string[] Required, int? Cop = null);

    static readonly Gen<(string Text, string Json)> Text = DataCases.Text;

    /// <summary>Text that starts with a letter: SciQ's support is left-stripped, and the expected value must not depend on which characters count as space.</summary>
    static readonly Gen<(string Text, string Json)> Lettered = DataCases.Text.Select(t => ("s" + t.Text, "\"s" + t.Json[1..]));

    static readonly Gen<(string? Json, string? Id)> Ids = Gen.OneOf(
        Gen.Const<(string?, string?)>((null, null)),
        Gen.Int[0, 99999].Select(i => ((string?)i.ToString(CultureInfo.InvariantCulture), (string?)i.ToString(CultureInfo.InvariantCulture))),
        Gen.String[Gen.Char["abc123-"], 1, 8].Select(s => ((string?)("\"" + s + "\""), (string?)s))
    );

    static Rec Rec(params (string? Key, string Json)[] fields) => new(fields.Where(f => f.Key is not null).Select(f => (f.Key!, f.Json)).ToList());

    static readonly Gen<Item> SciQ =
        from q in Text
        from d in Text.Array[3]
        from correct in Text
        from support in Gen.Select(Gen.String[Gen.Char[" \t\n"], 0, 3], Lettered, Gen.Int[0, 2])
        from id in Ids
        let supportText = support.Item3 == 0 ? "" : support.Item2.Text
        let supportJson = support.Item3 switch
        {
            0 => "null",
            _ => "\""
                + support.Item1.Replace("\t", "\\t", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)
                + support.Item2.Json[1..],
        }
        select new Item(
            Rec(
                ("question", q.Json),
                ("distractor1", d[0].Json),
                ("distractor2", d[1].Json),
                ("distractor3", d[2].Json),
                ("correct_answer", correct.Json),
                (
                    support.Item3 == 2 && supportText.Length > 0 ? "support"
                    : support.Item3 == 0 ? "support"
                    : null,
                    supportJson
                ),
                (id.Json is null ? null : "id", id.Json ?? "")
            ),
            new McqItem(
                $"{(support.Item3 == 2 ? supportText : "")}\nQuestion: {q.Text}\nAnswer:",
                [d[0].Text, d[1].Text, d[2].Text, correct.Text],
                3,
                id.Id
            ),
            ["question", "distractor1", "distractor2", "distractor3", "correct_answer"]
        );

    static readonly Gen<Item> Piqa =
        from goal in Text
        from sol in Text.Array[2]
        from label in Gen.Int[0, 1]
        from id in Ids
        select new Item(
            Rec(
                ("goal", goal.Json),
                ("sol1", sol[0].Json),
                ("sol2", sol[1].Json),
                ("label", label.ToString(CultureInfo.InvariantCulture)),
                (id.Json is null ? null : "id", id.Json ?? "")
            ),
            new McqItem($"Question: {goal.Text}\nAnswer:", [sol[0].Text, sol[1].Text], label, id.Id),
            ["goal", "sol1", "sol2", "label"]
        );

    /// <summary>A MedMCQA item with a cop of the given base; the file's base is decided afterwards from all cops.</summary>
    static Gen<Item> MedMcqa(int copBase) =>
        from q in Text
        from o in Text.Array[4]
        from cop in Gen.Int[copBase, copBase + 3]
        from id in Ids
        select new Item(
            Rec(
                ("question", q.Json),
                ("opa", o[0].Json),
                ("opb", o[1].Json),
                ("opc", o[2].Json),
                ("opd", o[3].Json),
                ("cop", cop.ToString(CultureInfo.InvariantCulture)),
                (id.Json is null ? null : "id", id.Json ?? "")
            ),
            new McqItem(
                $"Question: {q.Text}\nChoices:\nA. {o[0].Text}\nB. {o[1].Text}\nC. {o[2].Text}\nD. {o[3].Text}\nAnswer:",
                ["A", "B", "C", "D"],
                -1,
                id.Id
            ),
            ["question", "opa", "opb", "opc", "opd", "cop"],
            cop
        );

    /// <summary>
    /// The generic layout. Choices start with "c" and end with their index (never a single capital letter, all
    /// distinct), or are lettered "A. ..." in order; the answer is an index, a letter or a choice's text.
    /// </summary>
    static Gen<Item> Generic(bool asMedMcqa) =>
        from q in Text
        from n in Gen.Int[2, 6]
        from raw in Text.Array[n]
        from lettered in Gen.Bool
        from answer in Gen.Int[0, n - 1]
        from how in Gen.Int[0, 2]
        from context in Gen.Select(Text, Gen.Int[0, 2])
        let choices = raw.Select((c, i) => lettered ? $"{(char)('A' + i)}. c{c.Text}{i}" : $"c{c.Text}{i}").ToArray()
        let choiceJson = raw.Select((c, i) => lettered ? $"\"{(char)('A' + i)}. c{c.Json[1..^1]}{i}\"" : $"\"c{c.Json[1..^1]}{i}\"").ToArray()
        let answerJson = how switch
        {
            0 => answer.ToString(CultureInfo.InvariantCulture),
            1 => $"\"{(char)('A' + answer)}\"",
            _ => choiceJson[answer],
        }
        let ctx = context.Item2 == 2 ? context.Item1.Text : ""
        let options = lettered ? choices.Select(c => c[3..]).ToArray() : choices
        select new Item(
            Rec(
                ("question", q.Json),
                ("choices", "[" + string.Join(", ", choiceJson) + "]"),
                ("answer", answerJson),
                (context.Item2 == 0 ? null : "context", context.Item2 == 1 ? "null" : context.Item1.Json)
            ),
            asMedMcqa
                ? new McqItem(
                    (ctx.Length > 0 ? ctx + "\n" : "")
                        + $"Question: {q.Text}\nChoices:\n"
                        + string.Concat(options.Select((o, i) => $"{(char)('A' + i)}. {o}\n"))
                        + "Answer:",
                    options.Select((_, i) => ((char)('A' + i)).ToString()).ToArray(),
                    answer
                )
                : new McqItem(ctx.Length > 0 ? $"{ctx}\nQuestion: {q.Text}\nAnswer:" : $"Question: {q.Text}\nAnswer:", choices, answer),
            ["question", "choices", "answer"]
        );

    /// <summary>A task, its items (1-6, one layout), with the file's expected items.</summary>
    static readonly Gen<(string Task, Item[] Items)> Files =
        from layout in Gen.Int[0, 5]
        from n in Gen.Int[1, 6]
        from items in (
            layout switch
            {
                0 => SciQ,
                1 => Piqa,
                2 => MedMcqa(0),
                3 => MedMcqa(1),
                4 => Generic(false),
                _ => Generic(true),
            }
        ).Array[n]
        from generalTask in Gen.Bool
        let task = layout switch
        {
            0 => generalTask ? "mcq" : "sciq",
            1 => generalTask ? "mcq" : "piqa",
            2 or 3 => generalTask ? "mcq" : "medmcqa",
            4 => generalTask ? "mcq" : (n % 2 == 0 ? "sciq" : "piqa"),
            _ => "medmcqa",
        }
        select (task, MedMcqaAnswers(items));

    /// <summary>MedMCQA numbers cop 0-3 (HF) or 1-4 (original): a 4 anywhere means 1-based, else 0-based.</summary>
    static Item[] MedMcqaAnswers(Item[] items)
    {
        if (items[0].Cop is null)
            return items;
        var copBase = items.Any(i => i.Cop == 4) ? 1 : 0;
        return items.Select(i => i with { Expected = i.Expected with { Answer = i.Cop!.Value - copBase } }).ToArray();
    }

    static readonly string[] BadLabels = ["2", "-1", "1.5", "\"1\"", "true", "null", "2147483648"];
    static readonly string[] BadCops = ["5", "-1", "6", "1.5", "\"2\"", "true", "null"];
    static readonly string[] BadChoices = ["[\"only one\"]", "[]", "\"a, b\"", "[\"a\", 2]", "[\"a\", null]", "{\"a\": \"b\"}", "null"];

    static readonly Gen<(string Task, DataCase<List<McqItem>> Case)> Cases =
        from file in Files
        from layout in Layout.Any
        from kind in Gen.Int[0, 9]
        from r in Gen.Int[0, file.Items.Length - 1]
        from pick in Gen.Int[0, 1000]
        select (file.Task, Mutate(file.Task, file.Items, layout, kind, r, pick));

    static DataCase<List<McqItem>> Mutate(string task, Item[] items, Layout layout, int kind, int r, int pick)
    {
        var records = items.Select(i => i.Record).ToList();
        var item = items[r];
        var field = item.Required[pick % item.Required.Length];
        List<Rec> At(Rec rec)
        {
            var l = records.ToList();
            l[r] = rec;
            return l;
        }
        DataCase<List<McqItem>> Invalid(string why, Rec rec) => new($"{task}: {why}", layout, At(rec), null, r);
        switch (kind)
        {
            case 0 or 1 or 2:
                return new($"{task}: valid", layout, records, items.Select(i => i.Expected).ToList());
            case 3:
                if (field == "label" && r == 0) // with no label in the first row, PIQA looks for a labels file, which is absent
                    return new($"{task}: no label", layout, At(item.Record.Without(field)), null);
                return Invalid($"'{field}' missing", item.Record.Without(field));
            case 4:
                var bad = field switch
                {
                    "label" => BadLabels[pick % BadLabels.Length],
                    "cop" => BadCops[pick % BadCops.Length],
                    "choices" => BadChoices[pick % BadChoices.Length],
                    "answer" => AnswerOutOfRange(item, pick),
                    _ => DataCases.NotStrings[pick % DataCases.NotStrings.Length],
                };
                return Invalid($"'{field}' = {bad}", item.Record.With(field, bad));
            case 5:
                return Invalid($"'{field}' twice", item.Record.Twice(field));
            case 6 when field is "label" or "cop" or "answer" or "choices":
                return Invalid($"'{field}' twice", item.Record.Twice(field));
            case 6:
                return Invalid($"unpaired surrogate in '{field}'", item.Record.With(field, "\"x\\udbff\""));
            case 7:
                return new(
                    $"{task}: invalid UTF-8",
                    layout,
                    records,
                    null,
                    Damage: Damage.Utf8,
                    Bad: PropertyRun.InvalidUtf8Sequences[pick % PropertyRun.InvalidUtf8Sequences.Length]
                );
            default:
                return new($"{task}: cut record", layout, records, null, r, Damage.Cut);
        }
    }

    /// <summary>An answer no reading fits: an index past the choices, a letter past them that no choice spells, a text no choice has, a non-integer.</summary>
    static string AnswerOutOfRange(Item item, int pick) =>
        (pick % 6) switch
        {
            0 => item.Expected.Choices.Count.ToString(CultureInfo.InvariantCulture),
            1 => "-1",
            2 => $"\"{(char)('A' + item.Expected.Choices.Count)}\"",
            3 => "\"no such choice\"",
            4 => "1.5",
            _ => "null",
        };

    [Fact]
    public void McqFilesReadAsTheHarnessPromptsOrFailAtThePlace() =>
        PropertyRun.Check(
            Cases,
            t =>
                DataPropertyTests.CheckRecords(
                    _dir,
                    t.Case,
                    path => McqDatasets.Read(t.Task, path).ToList(),
                    (expected, read) =>
                    {
                        Assert.Equal(expected.Count, read.Count);
                        for (var i = 0; i < read.Count; i++)
                        {
                            Assert.Equal(expected[i].Prompt, read[i].Prompt);
                            Assert.Equal(expected[i].Choices, read[i].Choices);
                            Assert.Equal(expected[i].Answer, read[i].Answer);
                            Assert.Equal(expected[i].Id, read[i].Id);
                        }
                    }
                ),
            iter: 10000,
            Seed,
            t => t.Case.ToString()
        );
}
