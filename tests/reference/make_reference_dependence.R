# Reference values for dependent effect sizes (src/meta_analysis/dependence.py and robust.py):
# metafor's aggregate() and rma.mv() three-level / CHE models, clubSandwich's CR2 tests.
#
# Run from the repository root:   Rscript tests/reference/make_reference_dependence.R
# Needs: metafor 3.8, metadat, clubSandwich 0.5.8, jsonlite. Writes
# tests/reference/dependence_reference.json, which is committed: the tests never need R.
#
# Convergence. rma.mv's optimisers stop on changes of the log-likelihood, which leaves the variance
# components about 1e-7 (relative) from the optimum: nlminb, BFGS and nlm disagree at that level.
# So each fit is polished here by Newton's method on the analytic (RE)ML score (full k x k matrices;
# these data are small) until the step is at rounding level, the score at metafor's and at the polished
# values is recorded, and the model is then refitted by rma.mv with sigma2 fixed at the polished
# values, so that every other number (beta, SE, QE, logLik, predict(), clubSandwich) is metafor's own.

suppressMessages({
  library(metafor)
  library(clubSandwich)
  library(jsonlite)
})

ctrl <- list(rel.tol = 1e-10, iter.max = 10000, eval.max = 10000)

# Score and observed information (minus the Hessian) of the (RE)ML log-likelihood in
# (sigma2_between, sigma2_within), with P = W - W X (X'WX)^-1 X'W, so that P y = W (y - X beta):
# score_c = -tr(T G_c)/2 + y'P G_c P y/2, -H_cd = -tr(T G_c T G_d)/2 + y'P G_c P G_d P y,
# T = P for REML and T = W for ML (Harville 1977).
score_info <- function(s2, y, V, X, study, reml) {
  Gb <- outer(study, study, "==") * 1
  Gw <- diag(length(y))
  W <- chol2inv(chol(V + s2[1] * Gb + s2[2] * Gw))
  P <- W - W %*% X %*% solve(crossprod(X, W %*% X), crossprod(X, W))
  Tr <- if (reml) P else W
  Py <- P %*% y
  G <- list(Gb, Gw)
  score <- sapply(G, function(g) -0.5 * sum(Tr * g) + 0.5 * c(crossprod(Py, g %*% Py)))
  TG <- lapply(G, function(g) Tr %*% g)
  PGPy <- lapply(G, function(g) P %*% (g %*% Py))
  info <- outer(1:2, 1:2, Vectorize(function(a, b) {
    -0.5 * sum(TG[[a]] * t(TG[[b]])) + c(crossprod(Py, G[[a]] %*% PGPy[[b]]))
  }))
  list(score = score, info = info)
}

# Newton's method from metafor's estimate until the step is at rounding level. A component that
# Newton drives below zero is fixed at 0 (its score there must be <= 0: the boundary optimum) and
# the other is solved for alone.
polish <- function(res, y, V, X, study, reml) {
  free <- c(TRUE, TRUE)
  repeat {
    s2 <- ifelse(free, res$sigma2, 0)
    for (i in 1:50) {
      si <- score_info(s2, y, V, X, study, reml)
      step <- solve(si$info[free, free, drop = FALSE], si$score[free])
      s2[free] <- s2[free] + step
      if (max(abs(step / s2[free])) < 1e-14) break
    }
    if (all(s2 >= 0)) break
    free <- free & s2 > 0
  }
  stopifnot(max(abs(step / s2[free])) < 1e-12,
            all(score_info(s2, y, V, X, study, reml)$score[!free] <= 0))
  s2
}

fit_fields <- function(res, V, X) {
  # the multilevel I2 of the metafor FAQ (Cheung 2014), from the sampling covariance V only
  W <- solve(V)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  vtyp <- (res$k - res$p) / sum(diag(P))
  i2 <- 100 * res$sigma2 / (sum(res$sigma2) + vtyp)
  out <- list(k = res$k, p = res$p, n_studies = res$s.nlevels[1], beta = c(res$beta), se = res$se,
              stat = res$zval, pval = res$pval, ci_low = res$ci.lb, ci_high = res$ci.ub,
              sigma2_between = res$sigma2[1], sigma2_within = res$sigma2[2],
              q = res$QE, q_df = res$k - res$p, q_p = res$QEp, logLik = c(logLik(res)),
              i2_between = i2[1], i2_within = i2[2], i2_total = sum(i2))
  if (res$test == "t") out$df <- res$ddf[1]
  if (res$p > 1) {
    out$qm <- res$QM
    out$qm_p <- res$QMp
  } else {
    pred <- predict(res)
    out$pi_low <- pred$pi.lb
    out$pi_high <- pred$pi.ub
  }
  out
}

robust_fields <- function(res, cluster, type = "CR2") {
  ct <- coef_test(res, vcov = type, cluster = cluster, test = "Satterthwaite")
  ci <- conf_int(res, vcov = type, cluster = cluster, level = 0.95)
  list(type = type, estimate = ct$beta, se = ct$SE, stat = ct$tstat, df = ct$df_Satt,
       pval = ct$p_Satt, ci_low = ci$CI_L, ci_high = ci$CI_U)
}

multilevel <- function(d, V, mods = NULL, method = "REML", test = "z", robust_types = c("CR2")) {
  X <- if (is.null(mods)) matrix(1, nrow(d), 1) else cbind(1, as.matrix(mods))
  first <- if (is.null(mods)) {
    rma.mv(d$yi, V, random = ~ 1 | study / es_id, data = d, method = method, test = test, control = ctrl)
  } else {
    rma.mv(d$yi, V, mods = mods, random = ~ 1 | study / es_id, data = d, method = method, test = test,
           control = ctrl)
  }
  s2 <- polish(first, d$yi, V, X, d$study, method == "REML")
  res <- if (is.null(mods)) {
    rma.mv(d$yi, V, random = ~ 1 | study / es_id, data = d, method = method, test = test, sigma2 = s2)
  } else {
    rma.mv(d$yi, V, mods = mods, random = ~ 1 | study / es_id, data = d, method = method, test = test,
           sigma2 = s2)
  }
  out <- fit_fields(res, V, X)
  out$method <- method
  out$test <- test
  out$metafor_sigma2 <- first$sigma2
  out$score_at_metafor <- score_info(first$sigma2, d$yi, V, X, d$study, method == "REML")$score
  out$score_at_polished <- score_info(s2, d$yi, V, X, d$study, method == "REML")$score
  if (test == "z") {
    out$robust <- lapply(robust_types, function(type) robust_fields(res, d$study, type))
    names(out$robust) <- robust_types
    # metafor's robust(clubSandwich = TRUE) gives the same CR2 numbers
    rb <- robust(res, cluster = d$study, clubSandwich = TRUE)
    stopifnot(isTRUE(all.equal(c(rb$se), out$robust$CR2$se, tolerance = 1e-10)),
              isTRUE(all.equal(c(rb$ddf), out$robust$CR2$df, tolerance = 1e-10)))
  }
  out
}

one_set <- function(d, mods, rho = 0.6) {
  V0 <- diag(d$vi)
  V_che <- vcalc(vi, cluster = study, obs = es_id, rho = rho, data = d)
  agg <- function(r) {
    a <- aggregate(escalc(yi = yi, vi = vi, data = d), cluster = study, rho = r, addk = TRUE)
    list(rho = r, study = as.character(a$study), yi = c(a$yi), vi = c(a$vi), k_effects = a$ki)
  }
  uni <- rma(yi, vi, data = d, method = "REML", control = list(threshold = 1e-13, maxiter = 10000))
  list(yi = d$yi, vi = d$vi, study = as.character(d$study), es_id = as.character(d$es_id),
       mods = as.matrix(mods), rho = rho,
       aggregate = list(agg(rho), agg(0)),
       reml_z = multilevel(d, V0, robust_types = c("CR2", "CR1", "CR0")),
       ml_z = multilevel(d, V0, method = "ML"),
       reml_t = multilevel(d, V0, test = "t"),
       che_reml_z = multilevel(d, V_che),
       che_ml_t = multilevel(d, V_che, method = "ML", test = "t"),
       mods_reml_z = multilevel(d, V0, mods = mods),
       mods_reml_t = multilevel(d, V0, mods = mods, test = "t"),
       mods_che_reml_z = multilevel(d, V_che, mods = mods),
       univariate = list(tau2 = uni$tau2, by_study = robust_fields(uni, d$study),
                         by_effect = robust_fields(uni, seq_len(nrow(d)))))
}

ref <- list(metafor_version = as.character(packageVersion("metafor")),
            clubSandwich_version = as.character(packageVersion("clubSandwich")))

# 1. Schools within districts (Konstantopoulos 2011): 56 effects in 11 districts
ko <- dat.konstantopoulos2011
ko <- data.frame(study = ko$district, es_id = ko$school, yi = ko$yi, vi = ko$vi, year = ko$year)
ref$konstantopoulos <- one_set(ko, mods = cbind(year = (ko$year - 1990) / 10))

# 2. Delinquency effect sizes within studies (Assink & Wibbelink 2016): 100 effects in 17 studies
as <- dat.assink2016
as <- data.frame(study = as$study, es_id = as$esid, yi = as$yi, vi = as$vi)
ref$assink <- one_set(as, mods = cbind(pubstatus = dat.assink2016$pubstatus, year = dat.assink2016$year))

# 3. Gender and grant awards, log odds ratios within studies (Bornmann et al. 2007): 66 in 21 studies
bo <- escalc("OR", ai = waward, n1i = wtotal, ci = maward, n2i = mtotal, data = dat.bornmann2007)
bo <- data.frame(study = bo$study, es_id = bo$obs, yi = c(bo$yi), vi = c(bo$vi), type = bo$type)
ref$bornmann <- one_set(bo, mods = cbind(grant = as.numeric(bo$type == "Grant")))

write_json(ref, "tests/reference/dependence_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote tests/reference/dependence_reference.json with metafor", ref$metafor_version,
    "and clubSandwich", ref$clubSandwich_version, "\n")
