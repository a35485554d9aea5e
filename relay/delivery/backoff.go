package delivery

import (
	"math/rand/v2"
	"time"
)

// retryDelay is the delay before the attempt after `failures` failed ones:
// base·2^(failures-1), capped at max, with ±25% jitter.
func retryDelay(failures int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return jitter(d)
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + rand.Float64()*0.5))
}
