import numpy as np, json
from scipy import stats
# fixture 1: 10 classes, 4 images each; outcome strings per class for a and b
a = ["1111","1101","0110","1000","1111","0011","1010","1100","0001","1110"]
b = ["1011","0100","1010","0000","1101","0001","0010","1111","0000","0110"]
d = [sum(int(x) for x in ac) - sum(int(x) for x in bc) for ac, bc in zip(a, b)]
ca = np.array([sum(map(int,x)) for x in a]); cb = np.array([sum(map(int,x)) for x in b])
r = stats.permutation_test((ca, cb), lambda x, y, axis: np.sum(x - y, axis=axis), permutation_type='samples', n_resamples=np.inf, alternative='two-sided', vectorized=True)
onlyA = sum(1 for ac,bc in zip(a,b) for x,y in zip(ac,bc) if x=='1' and y=='0')
onlyB = sum(1 for ac,bc in zip(a,b) for x,y in zip(ac,bc) if x=='0' and y=='1')
mc = stats.binomtest(onlyA, onlyA+onlyB, 0.5).pvalue
print(json.dumps(dict(d=d, perm_p=r.pvalue, onlyA=onlyA, onlyB=onlyB, mcnemar_p=mc)))
# fixture 2: 20 classes all differing
rng = np.random.default_rng(1)
d2 = [int(x) for x in rng.integers(-3, 5, size=20)]
d2 = [x if x != 0 else 1 for x in d2]
r2 = stats.permutation_test((np.array(d2), np.zeros(20, dtype=int)), lambda x, y, axis: np.sum(x - y, axis=axis), permutation_type='samples', n_resamples=np.inf, vectorized=True, batch=1<<16)
print(json.dumps(dict(d2=d2, perm_p2=r2.pvalue)))
print(stats.binomtest(3, 17, 0.5).pvalue, stats.binomtest(0, 5, 0.5).pvalue)
