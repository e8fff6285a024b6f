using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Runtime;

/// <summary>
/// The static half of the fix for TorchSharp's temporary-Scalar race: Alora's compiled code makes no Scalar it does not
/// keep alive and calls no TorchSharp method that does. The stress tests (<see cref="ScalarRaceStressTests"/>) are the
/// dynamic half.
/// </summary>
public class ScalarLifetimeAuditTests
{
    static readonly Lazy<ScalarLifetimeAudit> Audit = new(() => new ScalarLifetimeAudit(typeof(torch).Assembly.Location));

    const string Tensor = "TorchSharp.torch/Tensor",
        Scalar = "TorchSharp.Scalar";

    /// <summary>The audit reads TorchSharp's IL itself; these are the cases read by hand in TorchSharp 0.107's source.</summary>
    [Fact]
    public void TheAuditFindsTheHiddenScalarsOfTorchSharp()
    {
        var a = Audit.Value;
        // add(Tensor) is "return add(target, 1)": an int Scalar nothing keeps
        Assert.True(a.IsHazardous($"{Tensor}::add({Tensor})"));
        Assert.True(a.IsHazardous($"{Tensor}::add_({Tensor})"));
        Assert.True(a.IsHazardous($"{Tensor}::op_Addition({Tensor},{Tensor})")); // x + y calls add(Tensor)
        Assert.True(a.IsHazardous($"{Tensor}::add({Scalar})")); // alpha again
        Assert.True(a.IsHazardous($"{Tensor}::op_Addition({Tensor},System.Double)")); // converts the double itself
        Assert.True(a.IsHazardous($"{Tensor}::square()")); // pow(2)
        Assert.True(
            a.IsHazardous($"TorchSharp.torch::arange({Scalar},System.Nullable`1<TorchSharp.torch/ScalarType>,TorchSharp.torch/Device,System.Boolean)")
        );
        // the calls that take every Scalar from their caller are safe
        Assert.False(a.IsHazardous($"{Tensor}::add({Tensor},{Scalar})"));
        Assert.False(a.IsHazardous($"{Tensor}::mul({Scalar})"));
        Assert.False(a.IsHazardous($"{Tensor}::sub({Tensor})")); // THSTensor_sub has no alpha
        Assert.False(a.IsHazardous($"{Tensor}::op_Subtraction({Tensor},{Tensor})"));
        Assert.False(a.IsHazardous($"{Tensor}::matmul({Tensor})"));
    }

    /// <summary>The rule applied to compiled C#: the specimens below, one per pattern.</summary>
    [Fact]
    public void TheAuditFlagsUnownedScalarsAndAcceptsOwnedOnes()
    {
        var findings = Audit.Value.Findings(typeof(Specimens).Assembly.Location, m => m.DeclaringType.Name == nameof(Specimens));
        string[] bad =
        [
            nameof(Specimens.ImplicitDouble),
            nameof(Specimens.TensorPlusTensor),
            nameof(Specimens.ScalarNotDisposed),
            nameof(Specimens.PowOfInt),
        ];
        string[] good =
        [
            nameof(Specimens.UsingLocal),
            nameof(Specimens.StaticField),
            nameof(Specimens.ThroughScalarOps),
            nameof(Specimens.ReturnedToCaller),
        ];
        foreach (var name in bad)
            Assert.Contains(findings, f => f.Contains($".{name} ", StringComparison.Ordinal));
        foreach (var name in good)
            Assert.DoesNotContain(findings, f => f.Contains($".{name} ", StringComparison.Ordinal));
    }

    [Fact]
    public void AloraHandsLibtorchOnlyScalarsItKeepsAlive()
    {
        var findings = new[] { typeof(AloraException).Assembly.Location, typeof(Alora.Cli.AloraCli).Assembly.Location }
            .SelectMany(path => Audit.Value.Findings(path))
            .ToList();
        Assert.True(findings.Count == 0, "use Alora.Runtime.ScalarOps, or a Scalar in a using local:\n" + string.Join("\n", findings));
    }

    /// <summary>Compiled with the tests; never run.</summary>
    static class Specimens
    {
        static readonly TorchSharp.Scalar Half = 0.5.ToScalar();

        public static torch.Tensor ImplicitDouble(torch.Tensor x) => x.mul(0.5);

        public static torch.Tensor TensorPlusTensor(torch.Tensor x) => x + x;

        public static torch.Tensor PowOfInt(torch.Tensor x) => x.pow(2);

        public static torch.Tensor ScalarNotDisposed(torch.Tensor x)
        {
            var s = 0.5.ToScalar();
            return x.mul(s);
        }

        public static torch.Tensor UsingLocal(torch.Tensor x)
        {
            using var s = 0.5.ToScalar();
            return x.mul(s);
        }

        public static torch.Tensor StaticField(torch.Tensor x) => x.mul(Half);

        public static torch.Tensor ThroughScalarOps(torch.Tensor x) => x.Plus(x).Times(0.5).Squared();

        public static TorchSharp.Scalar ReturnedToCaller(double v) => v.ToScalar();
    }
}
