# Reference values for src/meta_analysis/selection.py: PET-PEESE and step-function selection models.
#
# Run from the repository root:   Rscript tests/reference/make_reference_selection.R
# Needs R with metafor 3.8-1, metadat, numDeriv and jsonlite.
# Writes tests/reference/selection_reference.json, which is committed: the tests never need R.
#
# selmodel() by default stops optim's BFGS (numerical gradient, ndeps = 1e-3) up to ~1e-5 (relative)
# away from the optimum, and nlminb alone (its own finite-difference gradient) up to ~5e-7: the
# likelihood is flat there (a 4e-7 change in the estimates moves the log-likelihood by 1e-12). So each
# model is fitted with nlminb(rel.tol = 1e-10), polished by Newton steps on metafor's own likelihood
# (numDeriv gradient and Hessian), and refitted by selmodel() started at the polished values: the
# reported fit, SEs from metafor's Hessian included, is metafor's own at the optimum. Stored checks:
# `max_abs_gradient`, the largest |d logL / d theta| at the reported (mu, tau2, delta_2..J) (numDeriv's
# noise floor is ~1e-8); the same and the largest relative parameter difference for nlminb alone;
# and `nm_max_rel_diff`, the largest relative difference from an independent Nelder-Mead fit (reltol 1e-15).

suppressMessages({
  library(metafor)
  library(jsonlite)
})
stopifnot(packageVersion("metafor") == "3.8.1")

ctrl <- list(threshold = 1e-13, tol = 1e-13, maxiter = 10000)
nlminb_ctrl <- list(optimizer = "nlminb", rel.tol = 1e-10, iter.max = 10000, eval.max = 20000)
nm_ctrl <- list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-15, maxit = 100000)

# ---------------------------------------------------------------------------------------------- data
hack <- dat.hackshaw1998
riley <- dat.riley2003
mol <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
nd <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)

data_sets <- list(
  hackshaw = list(yi = c(hack$yi), vi = c(hack$vi)),
  riley = list(yi = c(riley$yi), vi = c(riley$vi)),
  molloy = list(yi = c(mol$yi), vi = c(mol$vi)),
  normand = list(yi = c(nd$yi), vi = c(nd$vi), n1 = nd$n1i, n2 = nd$n2i),
  bcg = list(yi = c(bcg$yi), vi = c(bcg$vi))
)

# ---------------------------------------------------------------------------------------------- PET-PEESE
lm_fields <- function(fit, level = 0.95) {
  s <- summary(fit)$coefficients
  ci <- confint(fit, level = level)
  list(estimate = s[1, 1], se = s[1, 2], stat = s[1, 3], pval = s[1, 4], ci_low = ci[1, 1], ci_high = ci[1, 2],
       slope = s[2, 1], slope_se = s[2, 2], df = fit$df.residual)
}

rma_fields <- function(fit) {
  list(estimate = c(fit$beta)[1], se = fit$se[1], stat = fit$zval[1], pval = fit$pval[1],
       ci_low = fit$ci.lb[1], ci_high = fit$ci.ub[1], slope = c(fit$beta)[2], slope_se = fit$se[2],
       tau2 = fit$tau2)
}

petpeese <- function(d, x_pet, x_peese) {
  yi <- d$yi
  vi <- d$vi
  list(
    lm = list(pet = lm_fields(lm(yi ~ x_pet, weights = 1 / vi)), peese = lm_fields(lm(yi ~ x_peese, weights = 1 / vi))),
    # the same multiplicative-error model through metafor: FE with the Knapp-Hartung dispersion
    fe_knha = suppressWarnings(list(pet = rma_fields(rma(yi, vi, mods = ~ x_pet, method = "FE", test = "knha")),
                                    peese = rma_fields(rma(yi, vi, mods = ~ x_peese, method = "FE", test = "knha")))),
    rma_reml = list(pet = rma_fields(rma(yi, vi, mods = ~ x_pet, method = "REML", control = ctrl)),
                    peese = rma_fields(rma(yi, vi, mods = ~ x_peese, method = "REML", control = ctrl)))
  )
}

pp <- list()
for (nm in names(data_sets)) {
  d <- data_sets[[nm]]
  pp[[nm]] <- list(sei = petpeese(d, sqrt(d$vi), d$vi))
}
# Pustejovsky & Rodgers (2019): sqrt(1/n1 + 1/n2) and 1/n1 + 1/n2 as predictors for SMDs
w_nd <- 1 / data_sets$normand$n1 + 1 / data_sets$normand$n2
pp$normand$modified <- petpeese(data_sets$normand, sqrt(w_nd), w_nd)
# metafor's regtest(model = "lm") is the PET slope test (a check that PET is Egger's regression)
rt <- regtest(hack$yi, hack$vi, model = "lm", predictor = "sei")
pp$hackshaw$regtest_lm <- list(stat = rt$zval, pval = rt$pval, limit_estimate = c(rt$est))

# ---------------------------------------------------------------------------------------------- selmodel
sel_fields <- function(s) {
  list(estimate = c(s$beta), se = s$se, stat = s$zval, pval = s$pval, ci_low = s$ci.lb, ci_high = s$ci.ub,
       tau2 = s$tau2, se_tau2 = s$se.tau2, delta = s$delta, se_delta = s$se.delta,
       delta_ci_low = s$ci.lb.delta, delta_ci_high = s$ci.ub.delta, delta_pval = s$pval.delta,
       ll = s$ll, ll0 = s$ll0, lrt = s$LRT, lrt_df = s$LRTdf, lrt_p = s$LRTp, counts = s$ptable$k,
       all_steps = s$steps)
}

# metafor's own log-likelihood in the natural parameters (mu, tau2, delta_1..J), delta_1 fixed at 1
loglik <- function(s, method) {
  function(par) {
    metafor:::.selmodel.ll.stepfun(par, yi = c(s$yi), vi = s$vi, X = s$X, preci = rep(1, s$k), k = s$k, pX = 1,
      pvals = s$pvals, deltas = s$deltas, delta.val = c(1, rep(NA, s$deltas - 1)), delta.transf = FALSE,
      mapfun = rep(NA, s$deltas), delta.min = rep(0, s$deltas), delta.max = rep(100, s$deltas),
      tau2.val = if (method == "FE") 0 else NA, tau2.transf = FALSE, tau2.max = Inf, beta.val = NA,
      wi.fun = s$wi.fun, steps = s$steps, pgrp = s$pgrp, alternative = s$alternative, pval.min = 0,
      intCtrl = list(), verbose = FALSE, digits = s$digits)  # returns minus the log-likelihood
  }
}
params <- function(s) c(c(s$beta), s$tau2, s$delta)
free_params <- function(s, method) c(TRUE, method != "FE", FALSE, rep(TRUE, s$deltas - 1))

# selmodel() run to the optimum: nlminb, then Newton steps on metafor's own likelihood (numDeriv gradient
# and Hessian), then selmodel() again started there, so that the reported fit is metafor's at the optimum
fit_to_optimum <- function(res, cs) {
  args <- list(res, type = "stepfun", steps = cs$steps, alternative = cs$alternative)
  s0 <- do.call(selmodel, c(args, list(control = nlminb_ctrl)))
  f <- loglik(s0, cs$method)
  free <- free_params(s0, cs$method)
  p <- params(s0)
  for (it in 1:6) {
    p[free] <- p[free] - solve(numDeriv::hessian(f, p)[free, free], numDeriv::grad(f, p)[free])
  }
  init <- list(beta.init = p[1], delta.init = p[-(1:2)])
  if (cs$method == "ML") init$tau2.init <- p[2]
  s <- do.call(selmodel, c(args, list(control = c(nlminb_ctrl, init))))
  list(fit = s, first = s0, grad = max(abs(numDeriv::grad(f, params(s))[free])),
       grad_first = max(abs(numDeriv::grad(f, params(s0))[free])))
}

cases <- list(
  list(data = "hackshaw", steps = 0.025, alternative = "greater", method = "ML"),
  list(data = "hackshaw", steps = c(0.025, 0.5), alternative = "greater", method = "ML"),
  list(data = "hackshaw", steps = c(0.05, 0.10, 0.5), alternative = "greater", method = "ML"),
  list(data = "hackshaw", steps = 0.05, alternative = "two.sided", method = "ML"),
  list(data = "hackshaw", steps = 0.025, alternative = "greater", method = "FE"),
  list(data = "riley", steps = 0.025, alternative = "greater", method = "ML"),
  list(data = "riley", steps = c(0.025, 0.5), alternative = "greater", method = "ML"),
  list(data = "riley", steps = c(0.01, 0.05, 0.5), alternative = "two.sided", method = "ML"),
  list(data = "molloy", steps = 0.025, alternative = "greater", method = "ML"),
  list(data = "molloy", steps = c(0.025, 0.5), alternative = "greater", method = "ML"),
  list(data = "bcg", steps = 0.5, alternative = "less", method = "ML")
)

sel <- list()
for (i in seq_along(cases)) {
  cs <- cases[[i]]
  d <- data_sets[[cs$data]]
  res <- rma(d$yi, d$vi, method = cs$method, control = ctrl)
  opt <- fit_to_optimum(res, cs)
  s <- opt$fit
  s_nm <- selmodel(res, type = "stepfun", steps = cs$steps, alternative = cs$alternative, control = nm_ctrl)
  rel_diff <- function(b) max((abs(params(s) - b) / pmax(abs(params(s)), 1e-12))[c(TRUE, cs$method != "FE", FALSE, rep(TRUE, s$deltas - 1))])
  out <- c(cs, sel_fields(s))
  out$max_abs_gradient <- opt$grad
  out$nlminb_only_max_abs_gradient <- opt$grad_first
  out$nlminb_only_max_rel_diff <- rel_diff(params(opt$first))
  out$nm_max_rel_diff <- rel_diff(params(s_nm))
  sel[[i]] <- out
  cat(sprintf("%-9s %-14s %-9s %s  LRT p = %.4g  |grad| %.1e (nlminb alone %.1e, rel diff %.1e; Nelder-Mead rel diff %.1e)\n",
              cs$data, paste(cs$steps, collapse = ","), cs$alternative, cs$method, s$LRTp, out$max_abs_gradient,
              out$nlminb_only_max_abs_gradient, out$nlminb_only_max_rel_diff, out$nm_max_rel_diff))
}

# metafor's own refusals, for the ValueError tests
refusals <- list(
  empty_interval = inherits(try(selmodel(rma(bcg$yi, bcg$vi, method = "ML"), type = "stepfun",
                                         steps = c(0.05, 0.10, 0.5)), silent = TRUE), "try-error"),
  too_few = inherits(try(selmodel(rma(hack$yi[1:2], hack$vi[1:2], method = "ML"), type = "stepfun",
                                  steps = 0.5), silent = TRUE), "try-error")
)

ref <- list(metafor = as.character(packageVersion("metafor")), data = data_sets, petpeese = pp,
            selmodel = sel, refusals = refusals)
write_json(ref, "tests/reference/selection_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "null")
cat("wrote tests/reference/selection_reference.json\n")
