# Regenerates the reference values in TTestTests.cs: python3 ttest_reference.py (needs only mpmath).
# Independent reference values for Alora.Reporting.TTest, at 50 significant digits with mpmath.
# p is computed two ways that must agree: the regularized incomplete beta identity
# p = I_{df/(df+t^2)}(df/2, 1/2), and direct numerical integration of the Student t density,
# p = 2 * integral_{|t|}^{inf} Gamma((v+1)/2)/(sqrt(v pi) Gamma(v/2)) (1+x^2/v)^(-(v+1)/2) dx.
from mpmath import mp, mpf, sqrt, betainc, quad, gamma, pi, inf, fsum
mp.dps = 50
def stats(xs):
    xs = [mpf(x) for x in xs]; n = len(xs); m = fsum(xs)/n
    v = fsum((x-m)**2 for x in xs)/(n-1); return n, m, v
def dens(x, v): return gamma((v+1)/2)/(sqrt(v*pi)*gamma(v/2))*(1+x*x/v)**(-(v+1)/2)
def both(a, b):
    n1,m1,v1 = stats(a); n2,m2,v2 = stats(b)
    sp2 = ((n1-1)*v1+(n2-1)*v2)/(n1+n2-2)
    ts = (m1-m2)/sqrt(sp2*(mpf(1)/n1+mpf(1)/n2)); dfs = mpf(n1+n2-2)
    se1, se2 = v1/n1, v2/n2
    tw = (m1-m2)/sqrt(se1+se2); dfw = (se1+se2)**2/(se1**2/(n1-1)+se2**2/(n2-1))
    for name,t,df in (("student",ts,dfs),("welch",tw,dfw)):
        pb = betainc(df/2, mpf(1)/2, 0, df/(df+t*t), regularized=True)
        pq = 2*quad(lambda x: dens(x, df), [abs(t), abs(t)+10, inf])
        assert abs(pb-pq) < mpf(10)**-30, (pb, pq)
        print(f"  {name}: t={mp.nstr(t,17)} df={mp.nstr(df,17)} p={mp.nstr(pb,17)}")
    print(f"  m1={mp.nstr(m1,17)} m2={mp.nstr(m2,17)} sd1={mp.nstr(sqrt(v1),17)} sd2={mp.nstr(sqrt(v2),17)}")
cases = {
 "A": ([2.31,2.45,2.19,2.52,2.38,2.27],[2.41,2.58,2.49,2.66,2.53,2.47]),
 "B": ([0.612,0.634,0.598,0.641,0.627],[0.571,0.655,0.532,0.689,0.601,0.548,0.672,0.590]),
 "C": ([10.2,10.9,9.7],[12.1,13.5,11.8,14.2,12.9,13.1,12.4,15.0,11.5,13.8,12.7,14.4]),
 "sleep": ([0.7,-1.6,-0.2,-1.2,-0.1,3.4,3.7,0.8,0.0,2.0],[1.9,0.8,1.1,0.1,-0.1,4.4,5.5,1.6,4.6,3.4]),
}
for k,(a,b) in cases.items():
    print(k); both(a,b)
