using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Alora.Data;

/// <summary>The field layouts a multiple-choice file can have.</summary>
internal enum McqLayout
{
    Unknown,
    SciQ,
    SciQQuestionAnswer,
    Piqa,
    MedMcqa,
    Generic,
}

/// <summary>
/// Builds <see cref="McqItem"/>s from each official layout with the prompts of lm-evaluation-harness
/// (tasks sciq, piqa, medmcqa), and from the generic layout (question, choices, answer, optional context).
/// </summary>
internal static class McqLayouts
{
    /// <summary>Detects the layout from the fields of one record (the first of a file).</summary>
    public static McqLayout Detect(DataRecord record)
    {
        if (record.Has("distractor1") || record.Has("correct_answer"))
            return McqLayout.SciQ;
        if (record.Has("goal") || record.Has("sol1"))
            return McqLayout.Piqa;
        if (record.Has("opa") || record.Has("cop"))
            return McqLayout.MedMcqa;
        if (record.Has("choices"))
            return McqLayout.Generic;
        if (record.Has("question") && record.Has("answer"))
            return McqLayout.SciQQuestionAnswer;
        return McqLayout.Unknown;
    }

    public static string Describe(McqLayout layout) =>
        layout switch
        {
            McqLayout.SciQ => "SciQ (question, distractor1-3, correct_answer, support)",
            McqLayout.SciQQuestionAnswer => "question-answer (question, answer)",
            McqLayout.Piqa => "PIQA (goal, sol1, sol2, label)",
            McqLayout.MedMcqa => "MedMCQA (question, opa-opd, cop)",
            McqLayout.Generic => "generic multiple choice (question, choices, answer, context)",
            _ => "no known layout",
        };

    /// <summary>lm-eval sciq: "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:", the correct answer last.</summary>
    public static McqItem SciQ(DataRecord r)
    {
        var question = r.String("question");
        string[] choices = [r.String("distractor1"), r.String("distractor2"), r.String("distractor3"), r.String("correct_answer")];
        var support = PyLStrip(r.OptionalString("support") ?? "");
        return new McqItem($"{support}\nQuestion: {question}\nAnswer:", choices, 3, r.OptionalId());
    }

    /// <summary>lm-eval piqa: "Question: {{goal}}\nAnswer:", choices [sol1, sol2]; the label comes from the row or a labels file.</summary>
    public static McqItem Piqa(DataRecord r, int? labelFromFile)
    {
        var goal = r.String("goal");
        string[] choices = [r.String("sol1"), r.String("sol2")];
        var label = labelFromFile ?? r.Int("label");
        if (label is not (0 or 1))
        {
            var why = label == -1 ? " (PIQA's test split has no public labels)" : "";
            throw r.Error(string.Create(CultureInfo.InvariantCulture, $"field 'label' must be 0 or 1, got {label}{why}"));
        }
        return new McqItem($"Question: {goal}\nAnswer:", choices, label, r.OptionalId());
    }

    /// <summary>
    /// The official release (GitHub) numbers <c>cop</c> 1-4; the HF release (which lm-eval reads) 0-3.
    /// A 4 anywhere means 1-based, a 0 anywhere 0-based; a file with only 1-3 is read as 0-based (HF).
    /// </summary>
    public static int MedMcqaCopBase(IReadOnlyList<DataRecord> records)
    {
        bool hasZero = false,
            hasFour = false;
        foreach (var r in records)
        {
            var cop = r.Int("cop");
            hasZero |= cop == 0;
            hasFour |= cop == 4;
        }
        if (hasZero && hasFour)
            throw new AloraException(
                $"{records[0].Source}: field 'cop' holds both 0 and 4; it must be 0-3 (HF release) or 1-4 (original release) throughout"
            );
        return hasFour ? 1 : 0;
    }

    /// <summary>lm-eval medmcqa: the options listed under "Choices:", the letters as the choices.</summary>
    public static McqItem MedMcqa(DataRecord r, int copBase)
    {
        var question = r.String("question");
        string[] options = [r.String("opa"), r.String("opb"), r.String("opc"), r.String("opd")];
        var cop = r.Int("cop");
        var answer = cop - copBase;
        if (answer is < 0 or > 3)
        {
            var range = copBase == 0 ? "0-3" : "1-4";
            var why = cop == -1 ? " (MedMCQA's test split has no public answers)" : "";
            throw r.Error(string.Create(CultureInfo.InvariantCulture, $"field 'cop' must be {range}, got {cop}{why}"));
        }
        return new McqItem(MedMcqaPrompt(null, question, options), Letters(4), answer, r.OptionalId());
    }

    /// <summary>Generic layout: "{context}\nQuestion: {question}\nAnswer:" (no context line when context is absent or empty).</summary>
    public static McqItem Generic(DataRecord r)
    {
        var (context, question, choices, answer) = ReadGeneric(r);
        var prompt = context is { Length: > 0 } ? $"{context}\nQuestion: {question}\nAnswer:" : $"Question: {question}\nAnswer:";
        return new McqItem(prompt, choices, answer, r.OptionalId());
    }

    /// <summary>
    /// Generic layout scored as MedMCQA: when the choices are lettered in order ("A. ...", "B. ..."), the letters
    /// are stripped to give the option texts; otherwise the choices are the option texts as they are.
    /// </summary>
    public static McqItem GenericAsMedMcqa(DataRecord r)
    {
        var (context, question, choices, answer) = ReadGeneric(r);
        var options = IsLettered(choices) ? choices.Select(c => c[3..]).ToArray() : choices.ToArray();
        return new McqItem(MedMcqaPrompt(context, question, options), Letters(options.Length), answer, r.OptionalId());
    }

    /// <summary>True when choice i starts with "{letter i}. " for every i (A, B, C, ...).</summary>
    public static bool IsLettered(IReadOnlyList<string> choices) =>
        choices.Count is > 0 and <= 26 && choices.Select((c, i) => c.StartsWith($"{(char)('A' + i)}. ", StringComparison.Ordinal)).All(x => x);

    private static string MedMcqaPrompt(string? context, string question, string[] options)
    {
        var sb = new StringBuilder();
        if (context is { Length: > 0 })
            sb.Append(context).Append('\n');
        sb.Append("Question: ").Append(question).Append("\nChoices:\n");
        for (var i = 0; i < options.Length; i++)
            sb.Append((char)('A' + i)).Append(". ").Append(options[i]).Append('\n');
        return sb.Append("Answer:").ToString();
    }

    private static string[] Letters(int count) => Enumerable.Range(0, count).Select(i => ((char)('A' + i)).ToString()).ToArray();

    private static (string? Context, string Question, IReadOnlyList<string> Choices, int Answer) ReadGeneric(DataRecord r)
    {
        var question = r.String("question");
        var choices = r.StringArray("choices");
        if (choices.Count < 2)
            throw r.Error(string.Create(CultureInfo.InvariantCulture, $"field 'choices' must hold at least 2 choices, got {choices.Count}"));
        return (r.OptionalString("context"), question, choices, ResolveAnswer(r, choices));
    }

    /// <summary>The answer as an index, a letter ("A".."Z") or the text of a choice; an answer both readings fit differently is an error.</summary>
    private static int ResolveAnswer(DataRecord r, IReadOnlyList<string> choices)
    {
        var value = r.Get("answer");
        var last = (char)('A' + Math.Min(choices.Count, 26) - 1);
        var expected = string.Create(CultureInfo.InvariantCulture, $"an index 0-{choices.Count - 1}, a letter A-{last} or the text of a choice");
        if (value.ValueKind == JsonValueKind.Number)
        {
            return value.TryGetInt32(out var index) && index >= 0 && index < choices.Count
                ? index
                : throw r.Error($"field 'answer' must be {expected}, got {DataRecord.Describe(value)}");
        }
        if (value.ValueKind != JsonValueKind.String)
            throw r.Error($"field 'answer' must be {expected}, got {DataRecord.Describe(value)}");

        var text = value.GetString()!;
        var byLetter = text.Length == 1 && text[0] >= 'A' && text[0] - 'A' < Math.Min(choices.Count, 26) ? text[0] - 'A' : -1;
        var matches = Enumerable.Range(0, choices.Count).Where(i => choices[i] == text).ToList();
        if (matches.Count > 1)
            throw r.Error(
                string.Create(CultureInfo.InvariantCulture, $"field 'answer' ('{text}') matches several choices ({string.Join(", ", matches)})")
            );
        var byText = matches.Count == 1 ? matches[0] : -1;
        if (byLetter >= 0 && byText >= 0 && byLetter != byText)
            throw r.Error(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"field 'answer' ('{text}') is ambiguous: letter {text} is choice {byLetter}, but choice {byText} has that text"
                )
            );
        var answer = byLetter >= 0 ? byLetter : byText;
        return answer >= 0 ? answer : throw r.Error($"field 'answer' must be {expected}, got {DataRecord.Describe(value)}");
    }

    /// <summary>Python's str.lstrip(): C#'s TrimStart() plus the separators U+001C-U+001F, which Python also counts as whitespace.</summary>
    private static string PyLStrip(string s)
    {
        var i = 0;
        while (i < s.Length && (char.IsWhiteSpace(s[i]) || s[i] is >= '\u001C' and <= '\u001F'))
            i++;
        return s[i..];
    }
}
