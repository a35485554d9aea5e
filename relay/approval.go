package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// settingApproval holds the approval mode an admin chose in the console;
// it overrides the configured one until changed again.
const settingApproval = "approval"

// loadApproval sets the approval mode from the store when an admin chose
// one, else from the configuration.
func (s *Server) loadApproval(ctx context.Context) error {
	mode := s.cfg.Approval
	v, err := s.store.Setting(ctx, settingApproval)
	switch {
	case err == nil && (Approval(v) == ApproveAuto || Approval(v) == ApproveManual):
		mode = Approval(v)
		if mode != s.cfg.Approval {
			s.log.Info("approval mode set in the console overrides the configured one", "approval", mode, "configured", s.cfg.Approval)
		}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("approval mode: %w", err)
	}
	s.approval.Store(&mode)
	return nil
}

// approvalMode is how new subscriptions are handled now.
func (s *Server) approvalMode() Approval { return *s.approval.Load() }

// ApprovalMode returns the approval mode ("auto" or "manual").
func (s *Server) ApprovalMode() string { return string(s.approvalMode()) }

// SetApprovalMode changes how new subscriptions are handled (an admin's
// act, audited); subscriptions already made keep their state.
func (s *Server) SetApprovalMode(ctx context.Context, op policy.Operator, mode string) error {
	m := Approval(mode)
	if m != ApproveAuto && m != ApproveManual {
		return fmt.Errorf("%w: approval is auto or manual", policy.ErrBadRule)
	}
	s.approvalWrites.Lock() // the store and memory agree, whoever saves last
	defer s.approvalWrites.Unlock()
	err := s.store.SetSetting(ctx, settingApproval, mode, store.AuditEntry{At: time.Now(), Who: op.Who, What: "approval.set",
		Subject: mode, Why: op.Why, Source: "manual"})
	if err != nil {
		return err
	}
	s.approval.Store(&m)
	s.log.Info("approval mode changed", "approval", m, "by", op.Who)
	return nil
}
