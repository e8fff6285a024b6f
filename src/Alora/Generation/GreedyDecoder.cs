using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Generation;

/// <summary>Greedy decoding without a KV-cache: every step re-reads the whole prefix (ties go to the lowest id, as argmax).</summary>
public static class GreedyDecoder
{
    public static IReadOnlyList<int> Generate(CausalLM model, IReadOnlyList<int> promptIds, int maxNewTokens, IReadOnlySet<int>? stopIds = null)
    {
        if (promptIds.Count == 0) throw new AloraException("the prompt is empty: give at least one token (for example the bos token)");
        if (maxNewTokens < 0) throw new AloraException("--max-new-tokens must be non-negative");
        if (promptIds.Any(i => i < 0 || i >= model.VocabSize))
            throw new AloraException($"prompt ids must lie in the model's vocabulary [0, {model.VocabSize}): got {string.Join(",", promptIds.Where(i => i < 0 || i >= model.VocabSize).Take(5))}");
        var device = model.parameters().First().device;
        var ids = promptIds.Select(i => (long)i).ToList();
        var generated = new List<int>();
        using var _ = no_grad();
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var scope = NewDisposeScope();
            var window = ids.Count > model.ContextLength ? ids.Skip(ids.Count - model.ContextLength).ToArray() : ids.ToArray();
            var input = tensor(window, device: device).unsqueeze(0);       // [1,T]
            var logits = model.forward(input);                              // [1,T,V]
            int next = (int)logits[0, -1].argmax().item<long>();
            generated.Add(next);
            ids.Add(next);
            if (stopIds is not null && stopIds.Contains(next)) break;
        }
        return generated;
    }
}
