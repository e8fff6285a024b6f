namespace Alora.Data;

/// <summary>A supervised example: the loss is taken on <see cref="Completion"/> given <see cref="Prompt"/>.
/// Completions carry their own leading space (" answer"), as lm-evaluation-harness continuations do.</summary>
public sealed record QaExample(string Prompt, string Completion);

/// <summary>Reads question-answer data: JSON Lines (or a JSON array, or Parquet) with string fields <c>prompt</c> and <c>completion</c>.</summary>
public static class QaCorpus
{
    public static IReadOnlyList<QaExample> Read(string path)
    {
        var records = DataFiles.ReadRecords(path);
        if (records.Count == 0)
            throw new AloraException($"{path}: contains no examples");
        return records.Select(r => new QaExample(r.String("prompt"), r.String("completion"))).ToList();
    }
}
