using Alora.Tokenization;

namespace Alora.Data;

/// <summary>
/// One training sequence: token ids and, per position, whether that token is a target
/// (predicted from the tokens before it). Position 0 is never a target.
/// </summary>
public sealed record TrainingExample(int[] Ids, bool[] Targets)
{
    public int TargetCount => Targets.Count(t => t);
}

/// <summary>Turns text and question-answer data into training sequences.</summary>
public static class TrainingData
{
    /// <summary>
    /// Sequence packing for general text: every document becomes [bos] + tokens + [eos], the stream is
    /// cut into chunks of <paramref name="seqLen"/> tokens (the last partial chunk is kept when it has
    /// at least two tokens), and every token but each chunk's first is a target.
    /// </summary>
    public static List<TrainingExample> Pack(IEnumerable<int[]> documents, int? bos, int? eos, int seqLen)
    {
        if (seqLen < 2)
            throw new AloraException($"--max-length must be at least 2 for training (got {seqLen})");
        var stream = new List<int>();
        foreach (var d in documents)
        {
            if (bos is { } b)
                stream.Add(b);
            stream.AddRange(d);
            if (eos is { } e)
                stream.Add(e);
        }
        var list = new List<TrainingExample>();
        for (int i = 0; i + 1 < stream.Count; i += seqLen)
        {
            var ids = stream.GetRange(i, Math.Min(seqLen, stream.Count - i)).ToArray();
            if (ids.Length < 2)
                break;
            list.Add(new TrainingExample(ids, ids.Select((_, j) => j > 0).ToArray()));
        }
        return list;
    }

    /// <summary>
    /// Prompt-completion pairs with the loss on the completion only: ids = [bos] + prompt + completion
    /// (+ eos), targets = the completion's tokens (and eos). Sequences longer than maxLength lose the
    /// start of the prompt; one whose completion alone does not fit is an error.
    /// </summary>
    public static List<TrainingExample> PromptCompletion(
        IEnumerable<(string Prompt, string Completion)> pairs,
        TextTokenizer tok,
        int maxLength,
        bool appendEos = true
    )
    {
        var list = new List<TrainingExample>();
        int n = 0;
        foreach (var (prompt, completion) in pairs)
        {
            n++;
            var p = tok.EncodeWithBos(prompt);
            // tokenize the whole text and split where the prompt ends, as lm-evaluation-harness
            // splits context and continuation (the continuation's first token can merge otherwise)
            var whole = tok.EncodeWithBos(prompt + completion);
            int split = CommonPrefix(p, whole);
            if (split == whole.Length)
                throw new AloraException($"example {n}: the completion is empty after tokenization");
            var ids = appendEos && tok.EosId is { } e ? [.. whole, e] : whole;
            var targets = ids.Select((_, j) => j >= split).ToArray();
            if (ids.Length > maxLength)
            {
                int cut = ids.Length - maxLength;
                if (cut >= split)
                    throw new AloraException(
                        $"example {n}: the completion alone ({ids.Length - split} tokens) is longer than --max-length {maxLength}"
                    );
                ids = ids[cut..];
                targets = targets[cut..];
            }
            targets[0] = false;
            list.Add(new TrainingExample(ids, targets));
        }
        return list;
    }

    static int CommonPrefix(int[] a, int[] b)
    {
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i])
            i++;
        return i;
    }
}
