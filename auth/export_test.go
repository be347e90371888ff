package auth

// HashRuns returns how many argon2id computations s has made (tests).
func HashRuns(s *Service) int64 { return s.hasher.runs.Load() }
