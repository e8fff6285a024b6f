using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Tokenization;

namespace Alora.Data;

/// <summary>A training data file read into training sequences, whatever its kind.</summary>
public static class TrainingFiles
{
    /// <summary>
    /// <paramref name="task"/> given: multiple-choice items become prompt + " " + correct answer (loss on the answer);
    /// JSONL with prompt/completion: loss on the completion; anything else: general text, packed into sequences of
    /// <paramref name="maxLength"/> tokens. Text is tokenized with the tokenizer of <paramref name="modelDir"/>.
    /// </summary>
    public static List<TrainingExample> Load(string path, string? task, string modelDir, int maxLength)
    {
        var docs = task is null && !IsPromptCompletion(path) ? TextCorpus.Read(path) : null;
        if (docs is not null && docs.All(d => d.InputIds is not null))
            return TrainingData.Pack(docs.Select(d => d.InputIds!), null, null, maxLength); // pre-tokenized: used as given
        using var tok = TextTokenizer.Load(modelDir);
        if (task is not null)
            return TrainingData.PromptCompletion(
                McqDatasets.ToTrainingExamples(McqDatasets.Read(task, path)).Select(q => (q.Prompt, q.Completion)),
                tok,
                maxLength
            );
        if (IsPromptCompletion(path))
            return TrainingData.PromptCompletion(QaCorpus.Read(path).Select(q => (q.Prompt, q.Completion)), tok, maxLength);
        var tokens = docs!.Select(d => d.InputIds ?? tok.Encode(d.Text!)).ToList();
        return TrainingData.Pack(tokens, tok.AddBos ? tok.BosId : null, tok.EosId, maxLength);
    }

    static bool IsPromptCompletion(string path)
    {
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || !File.Exists(path))
            return false;
        var first = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        try
        {
            return first is not null && JsonNode.Parse(first) is JsonObject j && j.ContainsKey("prompt") && j.ContainsKey("completion");
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
