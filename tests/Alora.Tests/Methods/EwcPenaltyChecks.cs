using Alora.Lora;
using Alora.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Methods;

/// <summary>The checks both EWC penalties (anchored at 0 and at D_nu) share: value, gradients in A and B, and central differences.</summary>
internal static class EwcPenaltyChecks
{
    public static double[] Values(Tensor t) => t.to_type(ScalarType.Float64).data<double>().ToArray();

    /// <summary>
    /// The penalty equals <paramref name="expected"/> (1e-10 relative, in float64), its gradients in A and B equal the
    /// hand-derived ones (1e-10 of the largest), and central differences (h = 1e-5) on a few elements of the second
    /// module's A and B agree with them (1e-7).
    /// </summary>
    public static void ValueAndGradients(
        EwcRegularizer ewc,
        IReadOnlyList<AdaptedModule> adapters,
        double expected,
        List<double[]> gradA,
        List<double[]> gradB
    )
    {
        foreach (var a in adapters)
        {
            a.Layer.lora_A.weight.requires_grad = true;
            a.Layer.lora_B.weight.requires_grad = true;
        }
        using (var p = ewc.Compute())
        {
            Assert.Equal(ScalarType.Float64, p.dtype);
            Assert.Equal(expected, p.item<double>(), expected * 1e-10);
            p.backward();
        }
        for (int m = 0; m < adapters.Count; m++)
        {
            AssertClose(gradA[m], Values(adapters[m].Layer.lora_A.weight.grad!), 1e-10);
            AssertClose(gradB[m], Values(adapters[m].Layer.lora_B.weight.grad!), 1e-10);
        }

        const double h = 1e-5;
        var layer = adapters[1].Layer;
        foreach (var (w, analytic) in new[] { (layer.lora_A.weight, gradA[1]), (layer.lora_B.weight, gradB[1]) })
        foreach (long idx in new long[] { 0, 7, w.numel() - 1 })
        {
            using var _ = no_grad();
            var flat = w.view(-1);
            double orig = flat[idx].item<double>();
            flat[idx].fill_(orig + h);
            double up;
            using (var p = ewc.Compute())
                up = p.item<double>();
            flat[idx].fill_(orig - h);
            double down;
            using (var p = ewc.Compute())
                down = p.item<double>();
            flat[idx].fill_(orig);
            double fd = (up - down) / (2 * h);
            Assert.True(Math.Abs(fd - analytic[idx]) <= 1e-7 * (Math.Abs(analytic[idx]) + 1e-3), $"element {idx}: {fd} vs {analytic[idx]}");
        }
    }

    public static void AssertClose(double[] expected, double[] actual, double rel)
    {
        double scale = expected.Max(Math.Abs) + 1e-300;
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= rel * scale, $"[{i}] {expected[i]} vs {actual[i]}");
    }
}
