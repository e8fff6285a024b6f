using System.Globalization;
using Alora.IO;

namespace Alora.Data;

/// <summary>
/// Reads multiple-choice benchmarks (SciQ, PIQA, MedMCQA in their official field names, and a generic layout)
/// from JSON arrays, JSON Lines or Parquet, and turns them into training examples.
/// </summary>
public static class McqDatasets
{
    /// <summary>The task names <see cref="Read"/> accepts.</summary>
    public static IReadOnlyList<string> Tasks { get; } = ["sciq", "piqa", "medmcqa", "mcq"];

    /// <summary>
    /// Reads a multiple-choice file for a task; the layout is detected from the first record's fields.
    /// sciq, piqa and medmcqa accept their official layout or the generic one (question, choices, answer,
    /// context); medmcqa formats generic items with the MedMCQA prompt. mcq reads any of these layouts,
    /// each with its own prompt. PIQA labels come from <paramref name="labelsPath"/> when given, else from
    /// the rows' <c>label</c>, else from <c>X-labels.lst</c> beside <c>X.jsonl</c>.
    /// </summary>
    public static IReadOnlyList<McqItem> Read(string task, string path, string? labelsPath = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        var name = task.Trim().ToLowerInvariant();
        if (!Tasks.Contains(name))
            throw new AloraException($"unknown multiple-choice task '{task}': expected one of {string.Join(", ", Tasks)}");

        var records = DataFiles.ReadRecords(path);
        if (records.Count == 0)
            throw new AloraException($"{path}: contains no items");
        var first = records[0];
        var layout = McqLayouts.Detect(first);

        if (layout == McqLayout.SciQQuestionAnswer)
        {
            var field = name switch
            {
                "sciq" => "distractor1",
                "piqa" => "goal",
                "medmcqa" => "opa",
                _ => "choices",
            };
            throw first.Error(
                $"field '{field}' is missing: the file has only 'question' and 'answer' (like SciQ without distractors), "
                    + "which cannot be scored as multiple choice; read it as question-answer data (McqDatasets.ReadSciQQuestionAnswer)"
            );
        }
        if (layout == McqLayout.Unknown)
        {
            // Let the task's own layout report the first missing field.
            layout = name switch
            {
                "sciq" => McqLayout.SciQ,
                "piqa" => McqLayout.Piqa,
                "medmcqa" => McqLayout.MedMcqa,
                _ => McqLayout.Generic,
            };
        }
        var official = name switch
        {
            "sciq" => McqLayout.SciQ,
            "piqa" => McqLayout.Piqa,
            "medmcqa" => McqLayout.MedMcqa,
            _ => layout,
        };
        if (layout != official && layout != McqLayout.Generic)
        {
            throw new AloraException(
                $"{path}: task '{name}' expects the {McqLayouts.Describe(official)} or the generic layout, "
                    + $"but {first.Location} has the {McqLayouts.Describe(layout)} layout"
            );
        }
        if (labelsPath != null && layout != McqLayout.Piqa)
            throw new AloraException(
                $"{labelsPath}: a labels file only goes with PIQA's layout, and {path} has the {McqLayouts.Describe(layout)} layout"
            );

        return layout switch
        {
            McqLayout.SciQ => records.Select(McqLayouts.SciQ).ToList(),
            McqLayout.Piqa => ReadPiqa(path, records, labelsPath),
            McqLayout.MedMcqa => ReadMedMcqa(records),
            _ when name == "medmcqa" => records.Select(McqLayouts.GenericAsMedMcqa).ToList(),
            _ => records.Select(McqLayouts.Generic).ToList(),
        };
    }

    /// <summary>
    /// Reads SciQ's question-answer layout (<c>question</c>, <c>answer</c>) as supervised examples:
    /// prompt "Question: {q}\nAnswer:", completion " {answer}".
    /// </summary>
    public static IReadOnlyList<QaExample> ReadSciQQuestionAnswer(string path)
    {
        var records = DataFiles.ReadRecords(path);
        if (records.Count == 0)
            throw new AloraException($"{path}: contains no items");
        return records.Select(r => new QaExample($"Question: {r.String("question")}\nAnswer:", " " + r.String("answer"))).ToList();
    }

    /// <summary>Training examples for domain tuning: the scored prompt and " " + the correct choice (as the evaluation scores it).</summary>
    public static IReadOnlyList<QaExample> ToTrainingExamples(IEnumerable<McqItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items
            .Select(item =>
            {
                if (item.Answer < 0 || item.Answer >= item.Choices.Count)
                    throw new ArgumentOutOfRangeException(nameof(items), $"item {item.Id}: answer {item.Answer} is not a choice index");
                return new QaExample(item.Prompt, " " + item.Choices[item.Answer]);
            })
            .ToList();
    }

    /// <summary>The labels file PIQA's layout would use automatically: X-labels.lst beside X.jsonl.</summary>
    public static string DefaultLabelsPath(string path) =>
        Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + "-labels.lst");

    private static List<McqItem> ReadPiqa(string path, List<DataRecord> records, string? labelsPath)
    {
        if (labelsPath == null && !records[0].Has("label"))
        {
            labelsPath = DefaultLabelsPath(path);
            if (!File.Exists(labelsPath))
                throw records[0].Error($"field 'label' is missing and there is no labels file {labelsPath} (give the labels file explicitly)");
        }
        if (labelsPath == null)
            return records.Select(r => McqLayouts.Piqa(r, null)).ToList();

        var labels = ReadLabels(labelsPath);
        if (labels.Count != records.Count)
        {
            throw new AloraException(
                string.Create(CultureInfo.InvariantCulture, $"{labelsPath}: has {labels.Count} labels but {path} has {records.Count} items")
            );
        }
        return records.Select((r, i) => McqLayouts.Piqa(r, labels[i])).ToList();
    }

    /// <summary>PIQA's *-labels.lst: one 0 or 1 per line; trailing empty lines are ignored.</summary>
    private static List<int> ReadLabels(string labelsPath)
    {
        DataFiles.CheckExists(labelsPath);
        var lines = Utf8Text.ReadFile(labelsPath).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var count = lines.Length;
        while (count > 0 && string.IsNullOrWhiteSpace(lines[count - 1]))
            count--;
        var labels = new List<int>(count);
        for (var i = 0; i < count; i++)
        {
            labels.Add(
                lines[i].Trim() switch
                {
                    "0" => 0,
                    "1" => 1,
                    var other => throw new AloraException(
                        string.Create(CultureInfo.InvariantCulture, $"{labelsPath} line {i + 1}: expected 0 or 1, got '{other}'")
                    ),
                }
            );
        }
        return labels;
    }

    private static List<McqItem> ReadMedMcqa(List<DataRecord> records)
    {
        var copBase = McqLayouts.MedMcqaCopBase(records);
        return records.Select(r => McqLayouts.MedMcqa(r, copBase)).ToList();
    }
}
